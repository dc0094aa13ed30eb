import { Id } from "@baton/core";
import { z } from "zod";
import type { ApiContext } from "./context.js";

/**
 * Routes Prefect's web UI calls besides the public API (their bodies are in the contract's
 * schemas). `count-task-runs` also gives the CLI its task-run column in one request.
 */
export function registerUiRoutes({ router, db }: ApiContext): void {
  router.route({
    method: "POST",
    path: "/ui/flow_runs/count-task-runs",
    tag: "UI",
    summary: "Number of task runs of each given flow run",
    body: z.strictObject({ flow_run_ids: z.array(Id).max(200) }),
    response: z.record(z.string(), z.number().int()),
    handler: async ({ body }) => {
      const counts: Record<string, number> = Object.fromEntries(body.flow_run_ids.map((id) => [id, 0]));
      if (body.flow_run_ids.length === 0) return counts;
      const rows = await db.kysely
        .selectFrom("task_run")
        .select(["flow_run_id", (eb) => eb.fn.countAll<number>().as("n")])
        .where("flow_run_id", "in", body.flow_run_ids)
        .groupBy("flow_run_id")
        .execute();
      for (const row of rows) if (row.flow_run_id) counts[row.flow_run_id] = Number(row.n);
      return counts;
    },
  });
}
