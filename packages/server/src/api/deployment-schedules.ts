import { ConflictError, DeploymentSchedule, DeploymentScheduleCreate, DeploymentScheduleUpdate, Id, ObjectNotFoundError, InvalidInputError } from "@baton/core";
import { z } from "zod";
import type { Executor } from "../db/database.js";
import { deleteSchedule, deleteScheduledRuns, insertSchedules, lockDeployment, readSchedules, updateSchedule } from "../db/queries/deployments.js";
import { checkSchedule } from "../scheduling/next-times.js";
import { scheduleDeploymentRuns, schedulerWindow } from "../scheduling/schedule-runs.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

const ScheduleParams = z.object({ id: Id, schedule_id: Id });

/**
 * `/deployments/{id}/schedules`: a deployment's schedules one at a time. A change to a
 * schedule deletes the future runs the scheduler made from it (they may no longer match) and
 * fills it again at once; new schedules are filled at once; other schedules' runs stay.
 * Slugs are unique within a deployment (409 otherwise).
 */
export function registerDeploymentScheduleRoutes({ router, db, config }: ApiContext): void {
  async function refill(deploymentId: string, scheduleIds: string[]): Promise<void> {
    if (!config.services.scheduler.enabled || scheduleIds.length === 0) return;
    const now = new Date();
    await scheduleDeploymentRuns(db, [deploymentId], {
      window: schedulerWindow(config.scheduler, now),
      now,
      insertBatchSize: config.scheduler.insertBatchSize,
      scheduleIds: new Set(scheduleIds),
    });
  }

  router.route({
    method: "GET",
    path: "/deployments/{id}/schedules",
    tag: "Deployments",
    summary: "A deployment's schedules, oldest first",
    params: IdParams,
    response: z.array(DeploymentSchedule),
    handler: async ({ params }) => {
      if (!(await db.kysely.selectFrom("deployment").select("id").where("id", "=", params.id).executeTakeFirst())) notFound(params.id);
      return readSchedules(db.kysely, params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/deployments/{id}/schedules",
    tag: "Deployments",
    summary: "Add schedules to a deployment; they are filled with runs at once",
    params: IdParams,
    body: z.array(DeploymentScheduleCreate).max(100, "must hold at most 100 schedules"),
    response: z.array(DeploymentSchedule),
    status: 201,
    handler: async ({ params, body }) => {
      body.forEach((s, i) => checkSchedule(s.schedule, `body.${i}.schedule`));
      checkDistinctSlugs(body, "body");
      const created = await db.write(async (trx) => {
        if (!(await lockDeployment(trx, db.dialect, params.id))) return undefined;
        await refuseTakenSlugs(trx, params.id, body.map((s) => s.slug).filter((s): s is string => typeof s === "string"), undefined);
        return insertSchedules(trx, params.id, body);
      });
      if (!created) notFound(params.id);
      await refill(
        params.id,
        created.filter((s) => s.active).map((s) => s.id),
      );
      return created;
    },
  });
  router.route({
    method: "PATCH",
    path: "/deployments/{id}/schedules/{schedule_id}",
    tag: "Deployments",
    summary: "Update one schedule of a deployment (fields left out or null keep their value); its future runs are rescheduled",
    params: ScheduleParams,
    body: DeploymentScheduleUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (body.schedule) checkSchedule(body.schedule, "body.schedule");
      const result = await db.write(async (trx) => {
        if (!(await lockDeployment(trx, db.dialect, params.id))) return "no deployment";
        if (body.slug) await refuseTakenSlugs(trx, params.id, [body.slug], params.schedule_id);
        const updated = await updateSchedule(trx, params.id, params.schedule_id, {
          schedule: body.schedule ?? undefined,
          active: body.active ?? undefined,
          max_scheduled_runs: body.max_scheduled_runs ?? undefined,
          parameters: body.parameters ?? undefined,
          slug: body.slug ?? undefined,
        });
        if (!updated) return "no schedule";
        await deleteScheduledRuns(trx, db.dialect, params.id, { autoScheduledOnly: true, after: new Date().toISOString(), scheduleIds: [params.schedule_id] });
        return "updated";
      });
      if (result === "no deployment") notFound(params.id);
      if (result === "no schedule") throw new ObjectNotFoundError("Schedule", params.schedule_id);
      await refill(params.id, [params.schedule_id]);
    },
  });
  router.route({
    method: "DELETE",
    path: "/deployments/{id}/schedules/{schedule_id}",
    tag: "Deployments",
    summary: "Delete one schedule of a deployment with the future runs the scheduler made from it",
    params: ScheduleParams,
    status: 204,
    handler: async ({ params }) => {
      const result = await db.write(async (trx) => {
        if (!(await lockDeployment(trx, db.dialect, params.id))) return "no deployment";
        if (!(await deleteSchedule(trx, params.id, params.schedule_id))) return "no schedule";
        await deleteScheduledRuns(trx, db.dialect, params.id, { autoScheduledOnly: true, after: new Date().toISOString(), scheduleIds: [params.schedule_id] });
        return "deleted";
      });
      if (result === "no deployment") notFound(params.id);
      if (result === "no schedule") throw new ObjectNotFoundError("Schedule", params.schedule_id);
    },
  });
}

/** Slugs name schedules within a deployment: a list of schedules may use each once. */
export function checkDistinctSlugs(schedules: ReadonlyArray<{ slug?: string | null | undefined }>, field: string): void {
  const seen = new Set<string>();
  schedules.forEach(({ slug }, i) => {
    if (slug == null) return;
    if (seen.has(slug)) throw new InvalidInputError(`${field}.${i}.slug`, `slug '${slug}' is used by another schedule in this list`);
    seen.add(slug);
  });
}

/** A slug another schedule of the deployment has already is a 409. */
async function refuseTakenSlugs(trx: Executor, deploymentId: string, slugs: string[], exceptScheduleId: string | undefined): Promise<void> {
  if (slugs.length === 0) return;
  let query = trx.selectFrom("deployment_schedule").select("slug").where("deployment_id", "=", deploymentId).where("slug", "in", slugs);
  if (exceptScheduleId) query = query.where("id", "<>", exceptScheduleId);
  const taken = await query.executeTakeFirst();
  if (taken) throw new ConflictError(`The deployment already has a schedule with slug '${taken.slug}'.`);
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Deployment", id);
}
