import { StatusChanges } from "../events/status-events.js";
import {
  FlowRun,
  MAX_FILTER_LIMIT,
  WorkQueue,
  WorkQueueConcurrencyStatus,
  WorkQueueConcurrencyStatusBody,
  WorkQueueCreate,
  WorkQueueFilterBody,
  WorkQueueGetRunsBody,
  WorkQueueStatusDetail,
  WorkQueueUpdate,
} from "@baton/core";
import { z } from "zod";
import { countSlotHolders, recordPoll, scheduledFlowRuns } from "../db/queries/work-pools.js";
import {
  agentPool,
  deleteWorkQueue,
  filterWorkQueues,
  insertWorkQueue,
  readWorkQueue,
  readWorkQueueRowByName,
  requireWorkQueueRow,
  slotHolders,
  updateWorkQueue,
  workQueueNotFound,
  workQueueStatusDetail,
} from "../db/queries/work-queues.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

const TAG = "Work Queues";

/**
 * `/work_queues/...`: queues by id, across pools. A queue created here without a pool goes
 * to the agent pool, as in Prefect; workers use `/work_pools/{name}/queues` instead.
 */
export function registerWorkQueueRoutes({ router, db, events }: ApiContext): void {
  const log = (error: unknown) => router.log.error({ err: error }, "publishing status events failed");
  router.route({
    method: "POST",
    path: "/work_queues/",
    tag: TAG,
    summary: "Create a work queue in the agent pool (use /work_pools/{name}/queues for a pool of your own)",
    body: WorkQueueCreate,
    response: WorkQueue,
    status: 201,
    handler: async ({ body }) => {
      const now = new Date().toISOString();
      const row = await db.write(async (trx) => insertWorkQueue(trx, db, await agentPool(trx, now), body, now));
      return readWorkQueue(db.kysely, row);
    },
  });
  router.route({
    method: "GET",
    path: "/work_queues/name/{name}",
    tag: TAG,
    summary: "Read a work queue of the agent pool by name",
    params: z.object({ name: z.string().min(1) }),
    response: WorkQueue,
    handler: async ({ params }) => {
      const row = await readWorkQueueRowByName(db.kysely, params.name);
      if (!row) throw workQueueNotFound(params.name);
      return readWorkQueue(db.kysely, row);
    },
  });
  router.route({
    method: "GET",
    path: "/work_queues/{id}",
    tag: TAG,
    summary: "Read a work queue",
    params: IdParams,
    response: WorkQueue,
    handler: async ({ params }) => readWorkQueue(db.kysely, await requireWorkQueueRow(db.kysely, params.id)),
  });
  router.route({
    method: "PATCH",
    path: "/work_queues/{id}",
    tag: TAG,
    summary: "Update a work queue",
    params: IdParams,
    body: WorkQueueUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      const changes = new StatusChanges();
      await db.write(async (trx) => updateWorkQueue(trx, db, await requireWorkQueueRow(trx, params.id), body, new Date(), changes));
      await changes.emit(db, events, log);
    },
  });
  router.route({
    method: "DELETE",
    path: "/work_queues/{id}",
    tag: TAG,
    summary: "Delete a work queue (not a pool's default queue)",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      await db.write(async (trx) => deleteWorkQueue(trx, db, await requireWorkQueueRow(trx, params.id)));
    },
  });
  router.route({
    method: "POST",
    path: "/work_queues/filter",
    tag: TAG,
    summary: "Query work queues of every pool, by name",
    body: WorkQueueFilterBody,
    response: z.array(WorkQueue),
    handler: ({ body }) => filterWorkQueues(db.kysely, undefined, body.work_queues, body),
  });
  router.route({
    method: "POST",
    path: "/work_queues/{id}/get_runs",
    tag: TAG,
    summary: "Scheduled runs due in a work queue, within its and its pool's concurrency limits; marks the queue polled",
    params: IdParams,
    body: WorkQueueGetRunsBody,
    response: z.array(FlowRun),
    handler: async ({ params, body, request }) => {
      const queue = await requireWorkQueueRow(db.kysely, params.id);
      const pool = await db.kysely.selectFrom("work_pool").selectAll().where("id", "=", queue.work_pool_id).executeTakeFirstOrThrow();
      const runs = await scheduledFlowRuns(db.kysely, pool, [queue], {
        scheduledBefore: body.scheduled_before,
        limit: body.limit ?? MAX_FILTER_LIMIT,
      });
      // Prefect's UI reads queued runs through this route too; that is not a worker's poll.
      if (String(request.headers["x-prefect-ui"]).toLowerCase() !== "true") {
        const changes = new StatusChanges();
        await recordPoll(db, pool, [queue], new Date(), changes);
        await changes.emit(db, events, log);
      }
      return runs.map((r) => r.flow_run);
    },
  });
  router.route({
    method: "GET",
    path: "/work_queues/{id}/status",
    tag: TAG,
    summary: "A work queue's health: no late runs and polled within the last minute",
    params: IdParams,
    response: WorkQueueStatusDetail,
    handler: async ({ params }) => workQueueStatusDetail(db.kysely, await requireWorkQueueRow(db.kysely, params.id), new Date()),
  });
  router.route({
    method: "POST",
    path: "/work_queues/{id}/concurrency_status",
    tag: TAG,
    summary: "The runs holding a work queue's slots, page by page",
    params: IdParams,
    body: WorkQueueConcurrencyStatusBody,
    response: WorkQueueConcurrencyStatus,
    handler: async ({ params, body }) => {
      const queue = await requireWorkQueueRow(db.kysely, params.id);
      const limit = body.limit ?? MAX_FILTER_LIMIT;
      const [active, runs] = await Promise.all([
        countSlotHolders(db.kysely, "work_queue_id", [queue.id]),
        slotHolders(db.kysely, [queue.id], { perQueue: limit, offset: (body.page - 1) * limit }, new Date()),
      ]);
      const count = active.get(queue.id) ?? 0;
      return {
        active_slots: count,
        concurrency_limit: queue.concurrency_limit,
        flow_runs: runs.get(queue.id) ?? [],
        count,
        limit,
        pages: limit === 0 ? 0 : Math.ceil(count / limit),
        page: body.page,
      };
    },
  });
}
