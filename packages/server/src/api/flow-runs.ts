import {
  FlowRun,
  FlowRunBulkDeleteBody,
  FlowRunCountBody,
  FlowRunCreate,
  FlowRunFilterBody,
  FlowRunBulkSetStateBody,
  FlowRunLatenessBody,
  Labels,
  FlowRunPaginateBody,
  FlowRunUpdate,
  HistoryInterval,
  ObjectNotFoundError,
  OrchestrationResult,
  SetStateBody,
  type StateCreate,
} from "@baton/core";
import { z } from "zod";
import type { Database } from "../db/database.js";
import { readFlow } from "../db/queries/flows.js";
import { readDeployment } from "../db/queries/deployments.js";
import {
  countFlowRuns,
  deleteFlowRun,
  deleteFlowRuns,
  filterFlowRuns,
  runHistory,
  averageLateness,
  matchingFlowRunIds,
  mergeFlowRunLabels,
  flowRunFromRow,
  newFlowRunRow,
  readFlowRun,
  updateFlowRun,
  type NewFlowRun,
} from "../db/queries/flow-runs.js";
import { resolveWorkPlacement } from "../db/queries/work-queues.js";
import { generateRunName } from "../names.js";
import { setRunState } from "../orchestration/set-state.js";
import { createRunWithState } from "../orchestration/create-run.js";
import type { Selectable } from "kysely";
import type { FlowRunTable } from "../db/schema.js";
import type { ApiContext } from "./context.js";
import type { EventStream } from "../events/event-stream.js";
import { HistoryRequestBody } from "./history.js";
import { streamRunLogsCsv } from "./logs-download.js";
import { registerQueryRoutes } from "./query-routes.js";
import { IdParams } from "./params.js";

export function registerFlowRunRoutes(context: ApiContext): void {
  registerFlowRunResourceRoutes(context);
  registerFlowRunExtraRoutes(context);
}

function registerFlowRunResourceRoutes({ router, db, events }: ApiContext): void {
  router.route({
    method: "POST",
    path: "/flow_runs/",
    tag: "Flow Runs",
    summary: "Create a flow run (an existing idempotency key returns the existing run, 200)",
    body: FlowRunCreate,
    response: FlowRun,
    status: 201,
    handler: async ({ body, reply }) => {
      if (!(await readFlow(db.kysely, body.flow_id))) throw new ObjectNotFoundError("Flow", body.flow_id);
      if (body.deployment_id && !(await readDeployment(db.kysely, body.deployment_id))) throw new ObjectNotFoundError("Deployment", body.deployment_id);
      const { run, created } = await createFlowRun(
        db,
        { ...body, name: body.name ?? generateRunName(), labels: body.labels ?? {} },
        body.state ?? { type: "PENDING" },
        events,
      );
      if (!created) reply.code(200);
      return run;
    },
  });
  router.route({
    method: "GET",
    path: "/flow_runs/{id}",
    tag: "Flow Runs",
    summary: "Read a flow run",
    params: IdParams,
    response: FlowRun,
    handler: async ({ params }) => (await readFlowRun(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "PATCH",
    path: "/flow_runs/{id}",
    tag: "Flow Runs",
    summary: "Update a flow run",
    params: IdParams,
    body: FlowRunUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await updateFlowRun(db.kysely, params.id, body))) notFound(params.id);
    },
  });
  router.route({
    method: "DELETE",
    path: "/flow_runs/{id}",
    tag: "Flow Runs",
    summary: "Delete a flow run with its states, task runs and logs",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteFlowRun(db.kysely, params.id))) notFound(params.id);
      await db.kysely.deleteFrom("log").where("flow_run_id", "=", params.id).execute();
    },
  });
  registerQueryRoutes(router, {
    base: "/flow_runs",
    tag: "Flow Runs",
    noun: "flow runs",
    item: FlowRun,
    filterBody: FlowRunFilterBody,
    countBody: FlowRunCountBody,
    paginateBody: FlowRunPaginateBody,
    filter: (criteria, page) => filterFlowRuns(db, criteria, page),
    count: (criteria) => countFlowRuns(db, criteria),
  });
  router.route({
    method: "POST",
    path: "/flow_runs/history",
    tag: "Flow Runs",
    summary: "Run counts per state over time buckets",
    body: HistoryRequestBody,
    response: z.array(HistoryInterval),
    handler: ({ body }) =>
      runHistory(db, "flow_run", body, { start: body.history_start, end: body.history_end, intervalSeconds: body.history_interval_seconds }),
  });
  router.route({
    method: "POST",
    path: "/flow_runs/{id}/set_state",
    tag: "Flow Runs",
    summary: "Propose a new state; the orchestration rules answer ACCEPT, REJECT, WAIT or ABORT",
    params: IdParams,
    body: SetStateBody,
    response: OrchestrationResult,
    status: 201,
    handler: async ({ params, body, reply }) => {
      const result = await setRunState(db, "flow_run", params.id, body.state, { force: body.force, events });
      // Prefect answers 201 when a new state was written and 200 otherwise; clients rely on the body.
      if (result.status !== "ACCEPT") reply.code(200);
      return result;
    },
  });
  router.route({
    method: "POST",
    path: "/flow_runs/bulk_delete",
    tag: "Flow Runs",
    summary: "Delete the flow runs matching a filter (at most `limit`)",
    body: FlowRunBulkDeleteBody,
    response: z.object({ deleted: z.array(z.string()) }),
    handler: async ({ body }) => {
      const deleted = await deleteFlowRuns(db, { flow_runs: body.flow_runs }, body.limit);
      if (deleted.length > 0) await db.kysely.deleteFrom("log").where("flow_run_id", "in", deleted).execute();
      return { deleted };
    },
  });
}

/**
 * The flow run routes beside the basic resource ones: labels, lateness, states set in bulk
 * and the logs as a file.
 */
function registerFlowRunExtraRoutes({ router, db, events }: ApiContext): void {
  router.route({
    method: "PATCH",
    path: "/flow_runs/{id}/labels",
    tag: "Flow Runs",
    summary: "Merge labels into a flow run's labels",
    params: IdParams,
    body: Labels,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await mergeFlowRunLabels(db, params.id, body))) notFound(params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/flow_runs/lateness",
    tag: "Flow Runs",
    summary: "Average lateness in seconds of the matching flow runs (null when none match)",
    body: FlowRunLatenessBody,
    response: z.number().nullable(),
    handler: ({ body }) => averageLateness(db, body),
  });
  router.route({
    method: "POST",
    path: "/flow_runs/bulk_set_state",
    tag: "Flow Runs",
    summary: "Propose one state to each matching flow run (at most `limit`), each through the orchestration rules",
    body: FlowRunBulkSetStateBody,
    response: z.object({ results: z.array(z.object({ flow_run_id: z.string() }).passthrough()) }),
    handler: async ({ body }) => {
      const ids = await matchingFlowRunIds(db, { flow_runs: body.flow_runs }, body.limit);
      const results = [];
      // One at a time: each transition is its own transaction, as a single set_state is.
      for (const id of ids) {
        const result = await setRunState(db, "flow_run", id, body.state, { force: body.force, events });
        results.push({ flow_run_id: id, ...result });
      }
      return { results };
    },
  });
  router.route({
    method: "GET",
    path: "/flow_runs/{id}/logs/download",
    tag: "Flow Runs",
    summary: "Download a flow run's logs as a CSV file",
    params: IdParams,
    handler: async ({ params, reply }) => {
      const run = (await readFlowRun(db.kysely, params.id)) ?? notFound(params.id);
      return reply
        .type("text/csv; charset=utf-8")
        .header("content-disposition", `attachment; filename="${run.name.replace(/[^\w.-]/g, "_")}-logs.csv"`)
        .send(streamRunLogsCsv(db, run.id));
    },
  });
}

/** Creates a flow run with its first state (see orchestration/create-run.ts). */
export async function createFlowRun(db: Database, input: NewFlowRun, state: StateCreate, events?: EventStream): Promise<{ run: FlowRun; created: boolean }> {
  // A run sent to a work pool is linked to its queue (the pool's default queue unless named).
  const placement = await resolveWorkPlacement(db.kysely, input.work_pool_name, input.work_queue_name);
  const { row, created } = await createRunWithState(db, { kind: "flow_run", row: { ...newFlowRunRow(input, new Date().toISOString()), ...placement } }, state, events);
  return { run: flowRunFromRow(row as Selectable<FlowRunTable>), created };
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Flow run", id);
}
