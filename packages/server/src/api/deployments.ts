import { StatusChanges } from "../events/status-events.js";
import {
  Deployment,
  DeploymentBulkDeleteBody,
  DeploymentBulkDeleteResponse,
  DeploymentCountBody,
  DeploymentCreate,
  DeploymentFilterBody,
  DeploymentFlowRunBulkCreateBody,
  DeploymentFlowRunCreate,
  DeploymentPaginateBody,
  DeploymentScheduledFlowRunsBody,
  DeploymentScheduleRunsBody,
  DeploymentUpdate,
  FlowRun,
  FlowRunBulkCreateResponse,
  InvalidInputError,
  MAX_FILTER_LIMIT,
  ObjectNotFoundError,
  WorkQueue,
  type FlowRunCreateResult,
} from "@baton/core";
import { z } from "zod";
import type { Database, Executor } from "../db/database.js";
import { readFlow } from "../db/queries/flows.js";
import {
  countDeployments,
  deleteDeployment,
  deleteDeployments,
  deleteScheduledRuns,
  filterDeployments,
  lockDeployment,
  markDeploymentsPolled,
  readDeployment,
  readDeploymentByName,
  updateDeployment,
  upsertDeployment,
  type DeploymentFields,
} from "../db/queries/deployments.js";
import { filterFlowRuns } from "../db/queries/flow-runs.js";
import { readWorkPoolRowByName, workPoolNotFound } from "../db/queries/work-pools.js";
import { insertWorkQueue, withQueueDetails } from "../db/queries/work-queues.js";
import { generateRunName } from "../names.js";
import { checkSchedule } from "../scheduling/next-times.js";
import { scheduleDeploymentRuns, schedulerWindow, type SchedulingWindow } from "../scheduling/schedule-runs.js";
import { checkParameters, parameterSchemaProblem } from "../validation/parameter-schema.js";
import type { ApiContext } from "./context.js";
import type { EventStream } from "../events/event-stream.js";
import { checkDistinctSlugs } from "./deployment-schedules.js";
import { createFlowRun } from "./flow-runs.js";
import { IdParams } from "./params.js";
import { registerQueryRoutes } from "./query-routes.js";

/** Deployment fields whose change makes already scheduled runs stale (their copy is out of date). */
const RUN_SHAPING_FIELDS = [
  "schedules",
  "paused",
  "parameters",
  "tags",
  "labels",
  "work_pool_name",
  "work_queue_name",
  "version",
  "job_variables",
  "infrastructure_document_id",
] as const;

export function registerDeploymentRoutes(context: ApiContext): void {
  const { router, db, config, events } = context;

  /**
   * Fills the deployment's schedules right after a change, as Prefect's scheduler does for
   * recently updated deployments, so runs due before the scheduler's next pass are not
   * missed. Off when the scheduler service is disabled.
   */
  async function refill(deploymentId: string): Promise<void> {
    if (!config.services.scheduler.enabled) return;
    const now = new Date();
    await scheduleDeploymentRuns(db, [deploymentId], { window: schedulerWindow(config.scheduler, now), now, insertBatchSize: config.scheduler.insertBatchSize });
  }

  router.route({
    method: "POST",
    path: "/deployments/",
    tag: "Deployments",
    summary: "Create a deployment, or update the one with the same flow and name (200); its schedules are replaced and its runs rescheduled",
    body: DeploymentCreate,
    response: Deployment,
    status: 201,
    handler: async ({ body, reply }) => {
      if (!(await readFlow(db.kysely, body.flow_id))) throw new ObjectNotFoundError("Flow", body.flow_id);
      body.schedules.forEach((s, i) => checkSchedule(s.schedule, `body.schedules.${i}.schedule`));
      checkDistinctSlugs(body.schedules, "body.schedules");
      checkParameterDefaults(body.parameter_openapi_schema ?? null, body.parameters, body.enforce_parameter_schema);
      const { flow_id, name, schedules, ...fields } = body;
      const { id, created } = await db.write(async (trx) => {
        const work_queue_id = fields.work_pool_name === undefined ? undefined : ((await deploymentQueueId(trx, db, fields.work_pool_name, fields.work_queue_name)) ?? null);
        const result = await upsertDeployment(trx, flow_id, name, { ...fields, ...(work_queue_id === undefined ? {} : { work_queue_id }) }, schedules);
        // An update replaced the schedules: runs made from the old ones are stale.
        if (!result.created) await deleteScheduledRuns(trx, db.dialect, result.id, { autoScheduledOnly: true, after: new Date().toISOString() });
        return result;
      });
      await refill(id);
      if (!created) reply.code(200);
      return (await readDeployment(db.kysely, id)) ?? notFound(id);
    },
  });
  router.route({
    method: "GET",
    path: "/deployments/{id}",
    tag: "Deployments",
    summary: "Read a deployment",
    params: IdParams,
    response: Deployment,
    handler: async ({ params }) => (await readDeployment(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "GET",
    path: "/deployments/name/{flow_name}/{deployment_name}",
    tag: "Deployments",
    summary: "Read a deployment by flow name and deployment name",
    params: z.object({ flow_name: z.string().min(1), deployment_name: z.string().min(1) }),
    response: Deployment,
    handler: async ({ params }) =>
      (await readDeploymentByName(db.kysely, params.flow_name, params.deployment_name)) ?? notFound(`${params.flow_name}/${params.deployment_name}`),
  });
  router.route({
    method: "PATCH",
    path: "/deployments/{id}",
    tag: "Deployments",
    summary: "Update a deployment; a change to what its runs copy (schedules, parameters, tags, pool...) reschedules them",
    params: IdParams,
    body: DeploymentUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      const existing = (await readDeployment(db.kysely, params.id)) ?? notFound(params.id);
      body.schedules?.forEach((s, i) => checkSchedule(s.schedule, `body.schedules.${i}.schedule`));
      if (body.schedules) checkDistinctSlugs(body.schedules, "body.schedules");
      checkParameterDefaults(
        body.parameter_openapi_schema === undefined ? existing.parameter_openapi_schema : body.parameter_openapi_schema,
        body.parameters ?? existing.parameters,
        body.enforce_parameter_schema ?? existing.enforce_parameter_schema,
      );
      const { schedules, ...fields } = body;
      const stale = RUN_SHAPING_FIELDS.some((key) => body[key] !== undefined);
      const updated = await db.write(async (trx) => {
        if (!(await lockDeployment(trx, db.dialect, params.id))) return false;
        const extra: Partial<DeploymentFields> = {};
        if (fields.work_pool_name !== undefined || fields.work_queue_name !== undefined) {
          const poolName = fields.work_pool_name === undefined ? existing.work_pool_name : fields.work_pool_name;
          const queueName = fields.work_queue_name === undefined ? existing.work_queue_name : fields.work_queue_name;
          extra.work_queue_id = (await deploymentQueueId(trx, db, poolName, queueName)) ?? null;
        }
        if (!(await updateDeployment(trx, params.id, { ...fields, ...extra }, schedules))) return false;
        // Pausing takes back every run the scheduler made, late ones too; other changes the future ones.
        if (body.paused === true) await deleteScheduledRuns(trx, db.dialect, params.id, { autoScheduledOnly: true });
        else if (stale) await deleteScheduledRuns(trx, db.dialect, params.id, { autoScheduledOnly: true, after: new Date().toISOString() });
        return true;
      });
      if (!updated) notFound(params.id);
      if (stale) await refill(params.id);
    },
  });
  router.route({
    method: "DELETE",
    path: "/deployments/{id}",
    tag: "Deployments",
    summary: "Delete a deployment with its runs that are Scheduled and never ran (its other runs stay, without a deployment)",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteDeployment(db, params.id))) notFound(params.id);
    },
  });
  registerQueryRoutes(router, {
    base: "/deployments",
    tag: "Deployments",
    noun: "deployments",
    item: Deployment,
    filterBody: DeploymentFilterBody,
    countBody: DeploymentCountBody,
    paginateBody: DeploymentPaginateBody,
    filter: (criteria, page) => filterDeployments(db, criteria, page),
    count: (criteria) => countDeployments(db, criteria),
  });
  router.route({
    method: "POST",
    path: "/deployments/bulk_delete",
    tag: "Deployments",
    summary: "Delete the deployments matching a filter (at most `limit`)",
    body: DeploymentBulkDeleteBody,
    response: DeploymentBulkDeleteResponse,
    handler: async ({ body }) => ({ deleted: await deleteDeployments(db, { deployments: body.deployments }, body.limit) }),
  });
  router.route({
    method: "POST",
    path: "/deployments/get_scheduled_flow_runs",
    tag: "Deployments",
    summary: "Scheduled runs of these deployments due before `scheduled_before`, oldest first; marks the deployments polled and READY (what serve() polls)",
    body: DeploymentScheduledFlowRunsBody,
    response: z.array(FlowRun),
    handler: async ({ body }) => {
      if (body.deployment_ids.length === 0) return [];
      const runs = await filterFlowRuns(
        db,
        {
          flow_runs: {
            operator: "and_",
            state: { operator: "and_", type: { any_: ["SCHEDULED"] } },
            ...(body.scheduled_before ? { next_scheduled_start_time: { before_: body.scheduled_before } } : {}),
          },
          deployments: { operator: "and_", id: { any_: body.deployment_ids } },
        },
        { sort: "NEXT_SCHEDULED_START_TIME_ASC", limit: body.limit ?? MAX_FILTER_LIMIT, offset: 0 },
      );
      const changes = new StatusChanges();
      await markDeploymentsPolled(db, body.deployment_ids, new Date().toISOString(), changes);
      await changes.emit(db, events, (error) => router.log.error({ err: error }, "publishing status events failed"));
      return runs;
    },
  });
  router.route({
    method: "POST",
    path: "/deployments/{id}/create_flow_run",
    tag: "Deployments",
    summary: "Create a flow run of a deployment (Scheduled for now unless a state is given); parameters are checked against its schema",
    params: IdParams,
    body: DeploymentFlowRunCreate,
    response: FlowRun,
    status: 201,
    handler: async ({ params, body, reply }) => {
      const deployment = (await readDeployment(db.kysely, params.id)) ?? notFound(params.id);
      const { run, created } = await createDeploymentRun(db, deployment, body, events);
      if (!created) reply.code(200);
      return run;
    },
  });
  router.route({
    method: "POST",
    path: "/deployments/{id}/create_flow_run/bulk",
    tag: "Deployments",
    summary: `Create up to 100 flow runs of a deployment; each result says CREATED with its id, or FAILED with why`,
    params: IdParams,
    body: DeploymentFlowRunBulkCreateBody,
    response: FlowRunBulkCreateResponse,
    handler: async ({ params, body }) => {
      const deployment = (await readDeployment(db.kysely, params.id)) ?? notFound(params.id);
      const results: FlowRunCreateResult[] = [];
      for (const item of body) {
        try {
          const { run } = await createDeploymentRun(db, deployment, item, events);
          results.push({ flow_run_id: run.id, status: "CREATED", error: null });
        } catch (error) {
          if (!(error instanceof InvalidInputError || error instanceof ObjectNotFoundError)) throw error;
          results.push({ flow_run_id: null, status: "FAILED", error: error.message });
        }
      }
      return { results };
    },
  });
  router.route({
    method: "POST",
    path: "/deployments/{id}/pause_deployment",
    tag: "Deployments",
    summary: "Pause a deployment: the scheduler stops, and the runs it had scheduled are deleted",
    params: IdParams,
    handler: async ({ params }) => {
      const found = await db.write(async (trx) => {
        if (!(await lockDeployment(trx, db.dialect, params.id))) return false;
        await updateDeployment(trx, params.id, { paused: true }, undefined);
        await deleteScheduledRuns(trx, db.dialect, params.id, { autoScheduledOnly: true });
        return true;
      });
      if (!found) notFound(params.id);
      return null;
    },
  });
  router.route({
    method: "POST",
    path: "/deployments/{id}/resume_deployment",
    tag: "Deployments",
    summary: "Resume a paused deployment: its active schedules are filled again at once",
    params: IdParams,
    handler: async ({ params }) => {
      const found = await db.write(async (trx) => (await lockDeployment(trx, db.dialect, params.id)) && updateDeployment(trx, params.id, { paused: false }, undefined));
      if (!found) notFound(params.id);
      await refill(params.id);
      return null;
    },
  });
  router.route({
    method: "POST",
    path: "/deployments/{id}/schedule",
    tag: "Deployments",
    summary: "Schedule runs of the deployment's active schedules now (start_time in the past backfills); a paused deployment gets none",
    params: IdParams,
    body: DeploymentScheduleRunsBody,
    handler: async ({ params, body }) => {
      if (!(await readDeployment(db.kysely, params.id))) notFound(params.id);
      const now = new Date();
      const start = body.start_time ? new Date(body.start_time) : now;
      const window: SchedulingWindow = {
        start,
        end: body.end_time ? new Date(body.end_time) : new Date(start.getTime() + config.scheduler.maxScheduledTimeSeconds * 1000),
        minTime: new Date(start.getTime() + (body.min_time ?? config.scheduler.minScheduledTimeSeconds) * 1000),
        minRuns: body.min_runs ?? config.scheduler.minRuns,
        maxRuns: body.max_runs ?? config.scheduler.maxRuns,
      };
      await scheduleDeploymentRuns(db, [params.id], { window, now, insertBatchSize: config.scheduler.insertBatchSize });
      return null;
    },
  });
  router.route({
    method: "GET",
    path: "/deployments/{id}/work_queue_check",
    tag: "Deployments",
    summary: "The work queues that would pick up this deployment's runs (none without a work pool)",
    params: IdParams,
    response: z.array(WorkQueue),
    handler: async ({ params }) => {
      const deployment = (await readDeployment(db.kysely, params.id)) ?? notFound(params.id);
      if (!deployment.work_pool_name) return [];
      const pool = await readWorkPoolRowByName(db.kysely, deployment.work_pool_name);
      if (!pool) return [];
      let query = db.kysely.selectFrom("work_queue").selectAll().where("work_pool_id", "=", pool.id);
      if (deployment.work_queue_name) query = query.where("name", "=", deployment.work_queue_name);
      else if (pool.default_queue_id) query = query.where("id", "=", pool.default_queue_id);
      else return [];
      return withQueueDetails(db.kysely, await query.execute());
    },
  });
}

/**
 * Creates a run of the deployment: its parameters merged under the request's and checked
 * against its parameter schema, its tags and labels added to the request's.
 */
async function createDeploymentRun(db: Database, deployment: Deployment, body: z.infer<typeof DeploymentFlowRunCreate>, events: EventStream) {
  const parameters = { ...deployment.parameters, ...body.parameters };
  const enforce = body.enforce_parameter_schema ?? deployment.enforce_parameter_schema;
  if (enforce && deployment.parameter_openapi_schema) checkParameters(deployment.parameter_openapi_schema, parameters);
  return createFlowRun(
    db,
    {
      name: body.name ?? generateRunName(),
      flow_id: deployment.flow_id,
      deployment_id: deployment.id,
      deployment_version: deployment.version,
      parameters,
      context: body.context,
      empirical_policy: body.empirical_policy,
      tags: [...new Set([...deployment.tags, ...body.tags])],
      labels: { ...deployment.labels, "prefect.flow.id": deployment.flow_id, "prefect.deployment.id": deployment.id, ...(body.labels ?? {}) },
      idempotency_key: body.idempotency_key,
      parent_task_run_id: body.parent_task_run_id,
      infrastructure_document_id: body.infrastructure_document_id ?? deployment.infrastructure_document_id,
      work_queue_name: body.work_queue_name ?? deployment.work_queue_name,
      work_pool_name: deployment.work_pool_name,
      job_variables: { ...deployment.job_variables, ...(body.job_variables ?? {}) },
    },
    body.state ?? { type: "SCHEDULED" },
    events,
  );
}

/**
 * A deployment's parameter schema must be usable, and its default parameters must fit it
 * (required ones may be left to each run, as Prefect checks them).
 */
function checkParameterDefaults(schema: Record<string, unknown> | null, parameters: Record<string, unknown>, enforce: boolean): void {
  if (!schema) return;
  const problem = parameterSchemaProblem(schema);
  if (problem) throw new InvalidInputError("body.parameter_openapi_schema", problem);
  if (enforce) checkParameters(schema, parameters, { ignoreRequired: true });
}

/**
 * The queue a deployment's runs go to, as Prefect resolves it when a deployment is saved:
 * the named queue of its pool (created if the pool has none of that name), or the pool's
 * default queue. An unknown pool is a 404. Undefined when no pool is named.
 */
async function deploymentQueueId(trx: Executor, db: Database, poolName: string | null | undefined, queueName: string | null | undefined): Promise<string | null | undefined> {
  if (poolName == null) return undefined;
  const pool = await readWorkPoolRowByName(trx, poolName);
  if (!pool) throw workPoolNotFound(poolName);
  if (queueName == null) return pool.default_queue_id;
  const queue = await trx.selectFrom("work_queue").select("id").where("work_pool_id", "=", pool.id).where("name", "=", queueName).executeTakeFirst();
  if (queue) return queue.id;
  const created = await insertWorkQueue(trx, db, pool, { name: queueName, description: "", is_paused: false }, new Date().toISOString());
  return created.id;
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Deployment", id);
}
