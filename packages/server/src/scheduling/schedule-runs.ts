import { DEFAULT_FLOW_RUN_POLICY, ObjectNotFoundError, isCronSchedule, isIntervalSchedule, type DeploymentSchedule, type State } from "@baton/core";
import type { Selectable } from "kysely";
import type { ServerConfig } from "../config.js";
import type { Database, Executor } from "../db/database.js";
import { fromJson, toJson } from "../db/json.js";
import { lockSchedulableDeployments, scheduleFromRow, scheduledRunKey } from "../db/queries/deployments.js";
import { newFlowRunRow } from "../db/queries/flow-runs.js";
import { STATE_TABLE, stateRow } from "../db/queries/states.js";
import { resolveWorkPlacement, type WorkPlacement } from "../db/queries/work-queues.js";
import type { DeploymentTable, FlowRunTable } from "../db/schema.js";
import { generateRunName } from "../names.js";
import { bookkeeping } from "../orchestration/bookkeeping.js";
import { stateFromProposal } from "../orchestration/state-factory.js";
import { nextScheduledTimes } from "./next-times.js";

/**
 * How far ahead to schedule, as Prefect's `schedule_runs` reads it: times from `start` to
 * `end`, at most `maxRuns` per schedule (or the schedule's own `max_scheduled_runs`), and at
 * least `minRuns` and until at least `minTime` when the schedule has them.
 */
export interface SchedulingWindow {
  start: Date;
  end: Date;
  minTime: Date;
  minRuns: number;
  maxRuns: number;
}

/** The scheduler's window at `now`, from its settings. */
export function schedulerWindow(settings: ServerConfig["scheduler"], now: Date): SchedulingWindow {
  return {
    start: now,
    end: new Date(now.getTime() + settings.maxScheduledTimeSeconds * 1000),
    minTime: new Date(now.getTime() + settings.minScheduledTimeSeconds * 1000),
    minRuns: settings.minRuns,
    maxRuns: settings.maxRuns,
  };
}

export interface ScheduleRunsOptions {
  window: SchedulingWindow;
  /** When the runs are created (their states' timestamp). */
  now: Date;
  /** Rows per INSERT statement. */
  insertBatchSize: number;
  /** Only these schedules of the deployments (all active ones when omitted). */
  scheduleIds?: ReadonlySet<string> | undefined;
  /**
   * Leave out deployments another transaction holds instead of waiting for them (the scheduler
   * service: another scheduler is on them already). PostgreSQL only; SQLite writers queue.
   */
  skipLocked?: boolean;
}

/**
 * Creates the Scheduled runs the active schedules of these deployments (paused ones are
 * skipped) have in the window, each once: a run's idempotency key names its deployment,
 * schedule and time, and inserting an existing key does nothing, so any number of
 * schedulers and API calls may fill the same window at once. The deployments are locked
 * while their runs are inserted, so a concurrent change of their schedules (which deletes
 * the runs it invalidates) comes entirely before or after. Returns the ids of the new runs.
 */
export async function scheduleDeploymentRuns(db: Database, deploymentIds: readonly string[], options: ScheduleRunsOptions): Promise<string[]> {
  if (deploymentIds.length === 0) return [];
  return db.write(async (trx) => {
    const deployments = await lockSchedulableDeployments(trx, db.dialect, deploymentIds, options.skipLocked ?? false);
    if (deployments.length === 0) return [];
    const scheduleRows = await trx
      .selectFrom("deployment_schedule")
      .selectAll()
      .where(
        "deployment_id",
        "in",
        deployments.map((d) => d.id),
      )
      .where("active", "=", 1)
      .orderBy("created")
      .orderBy("id")
      .execute();
    const runs: ScheduledRun[] = [];
    for (const deployment of deployments) {
      const schedules = scheduleRows
        .filter((row) => row.deployment_id === deployment.id && (!options.scheduleIds || options.scheduleIds.has(row.id)))
        .map(scheduleFromRow);
      if (schedules.length === 0) continue;
      const placement = await workPlacement(trx, deployment);
      for (const schedule of schedules) {
        for (const time of scheduledTimes(schedule, options.window)) runs.push(scheduledRun(deployment, schedule, time, placement, options.now));
      }
    }
    return insertScheduledRuns(trx, runs, options.insertBatchSize);
  });
}

/** The times to schedule: up to the maximum, stopping once both minimums are met. */
function scheduledTimes(schedule: DeploymentSchedule, window: SchedulingWindow): Date[] {
  const maxRuns = Math.min(window.maxRuns, schedule.max_scheduled_runs ?? Infinity);
  const candidates = nextScheduledTimes(schedule.schedule, { start: window.start, end: window.end, maxRuns });
  const times: Date[] = [];
  for (const time of candidates) {
    times.push(time);
    if (times.length >= window.minRuns && time >= window.minTime) break;
  }
  return times;
}

/** The queue the deployment's runs go to; none when it has no pool, or its pool or queue is gone. */
async function workPlacement(trx: Executor, deployment: Selectable<DeploymentTable>): Promise<WorkPlacement | undefined> {
  try {
    return await resolveWorkPlacement(trx, deployment.work_pool_name, deployment.work_queue_name);
  } catch (error) {
    // The runs still carry the pool and queue names; a worker of a pool created later finds them.
    if (error instanceof ObjectNotFoundError) return undefined;
    throw error;
  }
}

interface ScheduledRun {
  row: Selectable<FlowRunTable>;
  state: State;
}

const SCHEDULE_KIND_NAMES = { interval: "IntervalSchedule", cron: "CronSchedule", rrule: "RRuleSchedule" } as const;

function scheduledRun(
  deployment: Selectable<DeploymentTable>,
  schedule: DeploymentSchedule,
  time: Date,
  placement: WorkPlacement | undefined,
  now: Date,
): ScheduledRun {
  const deploymentLabels = fromJson<Record<string, unknown>>(deployment.labels, {});
  const row: Selectable<FlowRunTable> = {
    ...newFlowRunRow(
      {
        name: generateRunName(),
        flow_id: deployment.flow_id,
        deployment_id: deployment.id,
        deployment_version: deployment.version,
        parameters: { ...fromJson<Record<string, unknown>>(deployment.parameters, {}), ...schedule.parameters },
        context: {},
        empirical_policy: DEFAULT_FLOW_RUN_POLICY,
        // Prefect marks the scheduler's runs with this tag; the UI and filters rely on it.
        tags: [...new Set(["auto-scheduled", ...fromJson<string[]>(deployment.tags, [])])],
        labels: { ...deploymentLabels, "prefect.flow.id": deployment.flow_id, "prefect.deployment.id": deployment.id },
        idempotency_key: scheduledRunKey(deployment.id, schedule.id, time),
        infrastructure_document_id: deployment.infrastructure_document_id,
        work_queue_name: placement?.work_queue_name ?? deployment.work_queue_name,
        work_pool_name: placement?.work_pool_name ?? deployment.work_pool_name,
        job_variables: fromJson<Record<string, unknown>>(deployment.job_variables, {}),
        auto_scheduled: true,
      },
      now.toISOString(),
    ),
    work_queue_id: placement?.work_queue_id ?? null,
    work_pool_id: placement?.work_pool_id ?? null,
    created_by: toJson({ id: schedule.id, type: "SCHEDULE", display_value: schedule.slug ?? scheduleKindName(schedule) }),
  };
  const state = stateFromProposal(
    { type: "SCHEDULED", message: "Flow run scheduled", state_details: { scheduled_time: time.toISOString() } },
    now,
    { flow_run_id: row.id },
  );
  return { row: { ...row, ...bookkeeping({ kind: "flow_run", row, policy: DEFAULT_FLOW_RUN_POLICY }, null, state) } as Selectable<FlowRunTable>, state };
}

function scheduleKindName(schedule: DeploymentSchedule): string {
  if (isIntervalSchedule(schedule.schedule)) return SCHEDULE_KIND_NAMES.interval;
  if (isCronSchedule(schedule.schedule)) return SCHEDULE_KIND_NAMES.cron;
  return SCHEDULE_KIND_NAMES.rrule;
}

/**
 * Inserts the runs `batchSize` to a statement; a run whose key exists already is skipped
 * (ON CONFLICT DO NOTHING), and only the runs inserted get their first state.
 */
async function insertScheduledRuns(trx: Executor, runs: readonly ScheduledRun[], batchSize: number): Promise<string[]> {
  const inserted: string[] = [];
  const columns = runs[0] ? Object.keys(runs[0].row).length : 1;
  // Each value is a bound parameter; SQLite takes at most 32766 in one statement.
  const rowsPerStatement = Math.max(1, Math.min(batchSize, Math.floor(32_000 / columns)));
  for (let i = 0; i < runs.length; i += rowsPerStatement) {
    const batch = runs.slice(i, i + rowsPerStatement);
    const ids = await trx
      .insertInto("flow_run")
      .values(batch.map((r) => r.row))
      .onConflict((oc) => oc.columns(["flow_id", "idempotency_key"]).doNothing())
      .returning("id")
      .execute();
    if (ids.length === 0) continue;
    const created = new Set(ids.map((r) => r.id));
    await trx
      .insertInto(STATE_TABLE.flow_run)
      .values(batch.filter((r) => created.has(r.row.id)).map((r) => stateRow(r.state, r.row.id)))
      .execute();
    inserted.push(...batch.filter((r) => created.has(r.row.id)).map((r) => r.row.id));
  }
  return inserted;
}
