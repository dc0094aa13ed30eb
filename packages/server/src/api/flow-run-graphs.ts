import { DateTime, ObjectNotFoundError } from "@baton/core";
import { z } from "zod";
import { readFlowRunRow } from "../db/queries/flow-runs.js";
import { flowRunDependencies, flowRunGraph } from "../db/queries/flow-run-graphs.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

/** A flow run's task runs as a graph: Prefect 2's dependency list and Prefect 3's graph-v2. */
export function registerFlowRunGraphRoutes({ router, db }: ApiContext): void {
  router.route({
    method: "GET",
    path: "/flow_runs/{id}/graph",
    tag: "Flow Runs",
    summary: "A flow run's task runs, each with the task runs it depends on",
    params: IdParams,
    handler: async ({ params }) => {
      if (!(await readFlowRunRow(db.kysely, params.id))) notFound(params.id);
      return flowRunDependencies(db.kysely, params.id);
    },
  });
  router.route({
    method: "GET",
    path: "/flow_runs/{id}/graph-v2",
    tag: "Flow Runs",
    summary: "A flow run's graph: started task runs and subflow runs, their edges, and the run's states",
    params: IdParams,
    query: z.object({ since: DateTime.optional() }),
    handler: async ({ params, query }) => {
      const run = (await readFlowRunRow(db.kysely, params.id)) ?? notFound(params.id);
      return flowRunGraph(db.kysely, run, query.since);
    },
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Flow run", id);
}
