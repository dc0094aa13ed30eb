import { StatusChanges } from "../events/status-events.js";
import {
  baseJobTemplateProblem,
  GetScheduledFlowRunsBody,
  InvalidInputError,
  MAX_FILTER_LIMIT,
  ObjectNotFoundError,
  processBaseJobTemplate,
  Worker,
  WorkerFilterBody,
  WorkerFlowRunResponse,
  WorkerHeartbeatBody,
  WorkPool,
  WorkPoolConcurrencyStatus,
  WorkPoolConcurrencyStatusBody,
  WorkPoolCountBody,
  WorkPoolCreate,
  WorkPoolFilterBody,
  WorkPoolUpdate,
  WorkQueue,
  WorkQueueCreate,
  WorkQueueFilterBody,
  WorkQueueUpdate,
} from "@baton/core";
import { z } from "zod";
import {
  countSlotHolders,
  countWorkPools,
  deleteWorkPool,
  filterWorkPools,
  insertWorkPool,
  readWorkPool,
  recordPoll,
  requireWorkPoolRow,
  scheduledFlowRuns,
  updateWorkPool,
} from "../db/queries/work-pools.js";
import {
  deleteWorkQueue,
  filterWorkQueues,
  insertWorkQueue,
  readPoolQueues,
  readWorkQueue,
  requireNamedQueues,
  requireQueueInPool,
  slotHolders,
  updateWorkQueue,
} from "../db/queries/work-queues.js";
import { deleteWorker, filterWorkers, recordHeartbeat } from "../db/queries/workers.js";
import type { ApiContext } from "./context.js";

const TAG = "Work Pools";
const PoolParams = z.object({ name: z.string().min(1) });
const PoolQueueParams = z.object({ work_pool_name: z.string().min(1), name: z.string().min(1) });
const InPoolParams = z.object({ work_pool_name: z.string().min(1) });

/** A base job template the server can use, or a 422 naming the undeclared variables. */
function checkTemplate(template: Record<string, unknown>): void {
  const problem = baseJobTemplateProblem(template);
  if (problem) throw new InvalidInputError("body.base_job_template", problem);
}

/**
 * `/work_pools/...`: pools, their queues and workers, and the poll through which workers
 * find runs to start.
 */
export function registerWorkPoolRoutes({ router, db, events }: ApiContext): void {
  const log = (error: unknown) => router.log.error({ err: error }, "publishing status events failed");
  router.route({
    method: "POST",
    path: "/work_pools/",
    tag: TAG,
    summary: "Create a work pool with its default queue (a process pool gets the process worker's job template)",
    body: WorkPoolCreate,
    response: WorkPool,
    status: 201,
    handler: async ({ body }) => {
      const template = body.type === "process" && Object.keys(body.base_job_template).length === 0 ? processBaseJobTemplate() : body.base_job_template;
      checkTemplate(template);
      await db.write((trx) => insertWorkPool(trx, { ...body, base_job_template: template }, new Date().toISOString()));
      return readWorkPool(db.kysely, body.name);
    },
  });
  router.route({
    method: "GET",
    path: "/work_pools/{name}",
    tag: TAG,
    summary: "Read a work pool by name",
    params: PoolParams,
    response: WorkPool,
    handler: ({ params }) => readWorkPool(db.kysely, params.name),
  });
  router.route({
    method: "PATCH",
    path: "/work_pools/{name}",
    tag: TAG,
    summary: "Update a work pool (pause, resume, concurrency limit, template, description)",
    params: PoolParams,
    body: WorkPoolUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (body.base_job_template != null) checkTemplate(body.base_job_template);
      const changes = new StatusChanges();
      await db.write(async (trx) => updateWorkPool(trx, await requireWorkPoolRow(trx, params.name), body, new Date(), changes));
      await changes.emit(db, events, log);
    },
  });
  router.route({
    method: "DELETE",
    path: "/work_pools/{name}",
    tag: TAG,
    summary: "Delete a work pool with its queues and workers (its runs stay)",
    params: PoolParams,
    status: 204,
    handler: async ({ params }) => {
      await db.write(async (trx) => deleteWorkPool(trx, await requireWorkPoolRow(trx, params.name)));
    },
  });
  router.route({
    method: "POST",
    path: "/work_pools/filter",
    tag: TAG,
    summary: "Query work pools, by name",
    body: WorkPoolFilterBody,
    response: z.array(WorkPool),
    handler: ({ body }) => filterWorkPools(db.kysely, body.work_pools, body),
  });
  router.route({
    method: "POST",
    path: "/work_pools/count",
    tag: TAG,
    summary: "Count work pools",
    body: WorkPoolCountBody,
    response: z.number().int(),
    handler: ({ body }) => countWorkPools(db.kysely, body.work_pools),
  });
  router.route({
    method: "POST",
    path: "/work_pools/{name}/concurrency_status",
    tag: TAG,
    summary: "Slots in use in a work pool and in each of its queues (queues page by page)",
    params: PoolParams,
    body: WorkPoolConcurrencyStatusBody,
    response: WorkPoolConcurrencyStatus,
    handler: async ({ params, body }) => {
      const pool = await requireWorkPoolRow(db.kysely, params.name);
      const limit = body.limit ?? MAX_FILTER_LIMIT;
      const queues = await readPoolQueues(db.kysely, pool.id);
      const pageOfQueues = queues.slice((body.page - 1) * limit, body.page * limit);
      const [poolActive, queueActive, runs] = await Promise.all([
        countSlotHolders(db.kysely, "work_pool_id", [pool.id]),
        countSlotHolders(
          db.kysely,
          "work_queue_id",
          pageOfQueues.map((q) => q.id),
        ),
        slotHolders(
          db.kysely,
          pageOfQueues.map((q) => q.id),
          { perQueue: body.flow_run_limit },
          new Date(),
        ),
      ]);
      return {
        active_slots: poolActive.get(pool.id) ?? 0,
        concurrency_limit: pool.concurrency_limit,
        queues: pageOfQueues.map((q) => ({
          queue_id: q.id,
          queue_name: q.name,
          active_slots: queueActive.get(q.id) ?? 0,
          concurrency_limit: q.concurrency_limit,
          flow_runs: runs.get(q.id) ?? [],
          flow_run_count: queueActive.get(q.id) ?? 0,
        })),
        count: queues.length,
        limit,
        pages: limit === 0 ? 0 : Math.ceil(queues.length / limit),
        page: body.page,
      };
    },
  });
  router.route({
    method: "POST",
    path: "/work_pools/{name}/get_scheduled_flow_runs",
    tag: TAG,
    summary: "Scheduled runs due in the pool's queues, by queue priority then time, within the concurrency limits; marks the pool polled",
    params: PoolParams,
    body: GetScheduledFlowRunsBody,
    response: z.array(WorkerFlowRunResponse),
    handler: async ({ params, body }) => {
      const pool = await requireWorkPoolRow(db.kysely, params.name);
      const queues = body.work_queue_names?.length ? await requireNamedQueues(db.kysely, pool, body.work_queue_names) : await readPoolQueues(db.kysely, pool.id);
      const runs = await scheduledFlowRuns(db.kysely, pool, queues, {
        scheduledBefore: body.scheduled_before,
        scheduledAfter: body.scheduled_after,
        limit: body.limit ?? MAX_FILTER_LIMIT,
      });
      const changes = new StatusChanges();
      await recordPoll(db, pool, queues, new Date(), changes);
      await changes.emit(db, events, log);
      return runs;
    },
  });

  router.route({
    method: "POST",
    path: "/work_pools/{work_pool_name}/queues",
    tag: TAG,
    summary: "Create a queue in a work pool",
    params: InPoolParams,
    body: WorkQueueCreate,
    response: WorkQueue,
    status: 201,
    handler: async ({ params, body }) => {
      const row = await db.write(async (trx) => insertWorkQueue(trx, db, await requireWorkPoolRow(trx, params.work_pool_name), body, new Date().toISOString()));
      return readWorkQueue(db.kysely, row);
    },
  });
  router.route({
    method: "GET",
    path: "/work_pools/{work_pool_name}/queues/{name}",
    tag: TAG,
    summary: "Read a queue of a work pool by name",
    params: PoolQueueParams,
    response: WorkQueue,
    handler: async ({ params }) => readWorkQueue(db.kysely, (await requireQueueInPool(db.kysely, params.work_pool_name, params.name)).queue),
  });
  router.route({
    method: "PATCH",
    path: "/work_pools/{work_pool_name}/queues/{name}",
    tag: TAG,
    summary: "Update a queue of a work pool (a new priority moves the others down as needed)",
    params: PoolQueueParams,
    body: WorkQueueUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      const changes = new StatusChanges();
      await db.write(async (trx) => updateWorkQueue(trx, db, (await requireQueueInPool(trx, params.work_pool_name, params.name)).queue, body, new Date(), changes));
      await changes.emit(db, events, log);
    },
  });
  router.route({
    method: "DELETE",
    path: "/work_pools/{work_pool_name}/queues/{name}",
    tag: TAG,
    summary: "Delete a queue of a work pool (not its default queue)",
    params: PoolQueueParams,
    status: 204,
    handler: async ({ params }) => {
      await db.write(async (trx) => deleteWorkQueue(trx, db, (await requireQueueInPool(trx, params.work_pool_name, params.name)).queue));
    },
  });
  router.route({
    method: "POST",
    path: "/work_pools/{work_pool_name}/queues/filter",
    tag: TAG,
    summary: "Query the queues of a work pool, highest priority first",
    params: InPoolParams,
    body: WorkQueueFilterBody,
    response: z.array(WorkQueue),
    handler: async ({ params, body }) => {
      const pool = await requireWorkPoolRow(db.kysely, params.work_pool_name);
      return filterWorkQueues(db.kysely, pool.id, body.work_queues, body);
    },
  });

  router.route({
    method: "POST",
    path: "/work_pools/{work_pool_name}/workers/heartbeat",
    tag: TAG,
    summary: "A worker says it is alive: it becomes ONLINE and its pool READY",
    params: InPoolParams,
    body: WorkerHeartbeatBody,
    status: 204,
    handler: async ({ params, body }) => {
      const pool = await requireWorkPoolRow(db.kysely, params.work_pool_name);
      const changes = new StatusChanges();
      await recordHeartbeat(db.kysely, pool, body.name, body.heartbeat_interval_seconds, new Date(), changes);
      await changes.emit(db, events, log);
    },
  });
  router.route({
    method: "POST",
    path: "/work_pools/{work_pool_name}/workers/filter",
    tag: TAG,
    summary: "Query the workers of a work pool, most recent heartbeat first",
    params: InPoolParams,
    body: WorkerFilterBody,
    response: z.array(Worker),
    handler: async ({ params, body }) => {
      const pool = await requireWorkPoolRow(db.kysely, params.work_pool_name);
      return filterWorkers(db.kysely, pool.id, body.workers, body);
    },
  });
  router.route({
    method: "DELETE",
    path: "/work_pools/{work_pool_name}/workers/{name}",
    tag: TAG,
    summary: "Delete a worker of a work pool",
    params: PoolQueueParams,
    status: 204,
    handler: async ({ params }) => {
      const pool = await requireWorkPoolRow(db.kysely, params.work_pool_name);
      if (!(await deleteWorker(db.kysely, pool.id, params.name))) {
        throw new ObjectNotFoundError(`Worker '${params.name}' of work pool '${pool.name}'`, params.name);
      }
    },
  });
}
