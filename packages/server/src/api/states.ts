import { Id, ObjectNotFoundError, State } from "@baton/core";
import { z } from "zod";
import { listStates, readState, type RunKind } from "../db/queries/states.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

/** `/flow_run_states/` and `/task_run_states/`: one state by id, or a run's history in order. */
export function registerStateRoutes({ router, db }: ApiContext): void {
  for (const [kind, path, label, queryKey] of [
    ["flow_run", "/flow_run_states", "Flow run", "flow_run_id"],
    ["task_run", "/task_run_states", "Task run", "task_run_id"],
  ] as const satisfies ReadonlyArray<readonly [RunKind, string, string, string]>) {
    router.route({
      method: "GET",
      path: `${path}/{id}`,
      tag: `${label} States`,
      summary: `Read a ${label.toLowerCase()} state`,
      params: IdParams,
      response: State,
      handler: async ({ params }) => {
        const state = await readState(db.kysely, kind, params.id);
        if (!state) throw new ObjectNotFoundError(`${label} state`, params.id);
        return state;
      },
    });
    router.route({
      method: "GET",
      path: `${path}/`,
      tag: `${label} States`,
      summary: `A ${label.toLowerCase()}'s states, oldest first`,
      query: z.object({ [queryKey]: Id }) as z.ZodType<Record<string, string>>,
      response: z.array(State),
      handler: ({ query }) => listStates(db.kysely, kind, query[queryKey]!),
    });
  }
}
