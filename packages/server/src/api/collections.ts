import { BATON_VERSION, ObjectNotFoundError, processBaseJobTemplate } from "@baton/core";
import { z } from "zod";
import type { ApiContext } from "./context.js";

/**
 * `GET /collections/views/{view}`: the catalogue of worker types (and block and flow
 * collections) that Prefect's server downloads from the internet for its UI. Baton answers
 * with what it ships itself and never reaches out: its `process` worker, and no block or flow
 * collections beyond the system blocks the server registers.
 */
const VIEWS: Record<string, () => Record<string, unknown>> = {
  "aggregate-worker-metadata": () => ({
    baton: {
      process: {
        type: "process",
        description: "Runs each flow run as a child process of the worker, on the worker's machine.",
        display_name: "Process",
        documentation_url: null,
        install_command: "npm install @baton/worker",
        is_beta: false,
        logo_url: null,
        default_base_job_configuration: processBaseJobTemplate(),
        version: BATON_VERSION,
      },
    },
  }),
  "aggregate-block-metadata": () => ({}),
  "aggregate-flow-metadata": () => ({}),
  "demo-flows": () => ({}),
};

export function registerCollectionRoutes({ router }: ApiContext): void {
  router.route({
    method: "GET",
    path: "/collections/views/{view}",
    tag: "Collections",
    summary: `A collection view (${Object.keys(VIEWS).join(", ")}), from what Baton ships`,
    params: z.object({ view: z.string().min(1).max(200) }),
    handler: ({ params }) => {
      const view = VIEWS[params.view];
      if (!view) throw new ObjectNotFoundError(`Collection view '${params.view}'`, params.view);
      return view();
    },
  });
}
