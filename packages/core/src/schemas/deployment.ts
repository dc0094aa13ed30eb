import { z } from "zod";
import { CreatedBy, DateTime, Id, Int32, JsonObject, Labels, Name, Tags, normalizeTimestamp } from "../primitives.js";
import { isValidTimeZone, wallClockToInstant } from "../time-zones.js";
import { FlowRunPolicy } from "./policies.js";
import { StateCreate } from "../states.js";
import { DeploymentFilter, MAX_FILTER_LIMIT, MAX_FILTER_VALUES } from "./filters.js";
import { lazySchema } from "../lazy-schema.js";

/** An IANA time zone name ("Europe/Berlin"); schedules compute local times in it. */
export const TimeZone = lazySchema(() => z.string().refine(isValidTimeZone, { message: "must be an IANA time zone name, such as Europe/Berlin or UTC" }));

/** Longest interval a schedule accepts: 100 years, in seconds. */
const MAX_INTERVAL_SECONDS = 100 * 366 * 86_400;

/**
 * Every `interval` seconds from `anchor_date`. Whole days of the interval are counted on the
 * calendar of `timezone` (a daily run keeps its local time across daylight-saving changes);
 * the rest, and everything when no zone is given, is elapsed time. An anchor without an
 * offset is a local time of `timezone` (or UTC); without an anchor the schedule counts from
 * the moment it is created, as in Prefect.
 */
const IntervalScheduleFields = lazySchema(() =>
  z.strictObject({
    interval: z.number().positive("must be a positive number of seconds").max(MAX_INTERVAL_SECONDS, "must be at most 100 years"),
    anchor_date: z
      .string()
      .refine((s) => DateTime.safeParse(s).success, { message: "Invalid datetime: expected an ISO 8601 date-time" })
      .nullish(),
    timezone: TimeZone.nullish(),
  }));
export interface IntervalSchedule {
  interval: number;
  /** UTC, e.g. 2026-01-01T00:00:00.000Z */
  anchor_date: string;
  timezone: string | null;
}

/**
 * A five-field cron expression (or a nickname such as `@daily`) matched against local time in
 * `timezone` (UTC when none). `day_or` false requires day-of-month AND day-of-week to match.
 */
const CronScheduleFields = lazySchema(() =>
  z.strictObject({
    cron: z.string().trim().min(1, "must not be empty").max(1000),
    timezone: TimeZone.nullish(),
    day_or: z.boolean().default(true),
  }));
export interface CronSchedule {
  cron: string;
  timezone: string | null;
  day_or: boolean;
}

/**
 * An RFC 5545 recurrence (RRULE, optionally with DTSTART, RDATE, EXDATE, EXRULE lines), read
 * as local times of `timezone`. Without a `timezone`, the DTSTART's TZID is used, else UTC.
 */
const RRuleScheduleFields = lazySchema(() =>
  z.strictObject({
    rrule: z.string().trim().min(1, "must not be empty").max(6500, "must be at most 6500 characters"),
    timezone: TimeZone.nullish(),
  }));
export interface RRuleSchedule {
  rrule: string;
  timezone: string;
}

export type Schedule = IntervalSchedule | CronSchedule | RRuleSchedule;

/**
 * A schedule as stored on a deployment: interval, cron or rrule, told apart by their keys,
 * and completed (an interval's anchor in UTC, an rrule's zone) so that it means the same thing
 * whenever it is read.
 */
export const Schedule = lazySchema(() =>
  z
    .union([IntervalScheduleFields, CronScheduleFields, RRuleScheduleFields], {
      error: "must be an interval schedule {interval, anchor_date, timezone}, a cron schedule {cron, timezone, day_or} or an rrule schedule {rrule, timezone}",
    })
    .transform((s): Schedule => {
      if ("interval" in s) return { interval: s.interval, anchor_date: anchorInstant(s.anchor_date, s.timezone), timezone: s.timezone ?? null };
      if ("cron" in s) return { cron: s.cron, timezone: s.timezone ?? null, day_or: s.day_or };
      return { rrule: s.rrule, timezone: s.timezone ?? rruleTimeZone(s.rrule) ?? "UTC" };
    }));

export function isCronSchedule(schedule: Schedule): schedule is CronSchedule {
  return "cron" in schedule;
}
export function isIntervalSchedule(schedule: Schedule): schedule is IntervalSchedule {
  return "interval" in schedule;
}
export function isRRuleSchedule(schedule: Schedule): schedule is RRuleSchedule {
  return "rrule" in schedule;
}

/** The instant of an interval schedule's anchor: naive anchors are local times of its zone. */
function anchorInstant(anchor: string | null | undefined, timezone: string | null | undefined): string {
  if (!anchor) return new Date().toISOString();
  const utc = normalizeTimestamp(anchor);
  const naive = !/(Z|[+-]\d{2}:?\d{2})$/i.test(anchor.trim());
  if (!naive || !timezone) return utc;
  return new Date(wallClockToInstant(timezone, Date.parse(utc))).toISOString();
}

/** The TZID of an rrule's DTSTART line, if it has one the runtime knows. */
function rruleTimeZone(rrule: string): string | undefined {
  const match = /DTSTART;TZID=([^:;\r\n]+)[:;]/i.exec(rrule);
  const zone = match?.[1];
  return zone && isValidTimeZone(zone) ? zone : undefined;
}

/** Most flow runs one schedule may keep scheduled ahead. */
export const MAX_SCHEDULED_RUNS_PER_SCHEDULE = 1000;

const MaxScheduledRuns = lazySchema(() => Int32.positive("must be a positive number of runs").max(MAX_SCHEDULED_RUNS_PER_SCHEDULE));

export const DeploymentScheduleCreate = lazySchema(() =>
  z.strictObject({
    schedule: Schedule,
    active: z.boolean().default(true),
    max_scheduled_runs: MaxScheduledRuns.nullish(),
    parameters: JsonObject.default({}),
    slug: z.string().min(1).max(5000).nullish(),
    /**
     * Prefect's clients send it to rename a slug when schedules are matched by slug; here a
     * deployment's schedules are replaced as a whole, so it changes nothing.
     */
    replaces: z.string().nullish(),
  }));
export type DeploymentScheduleCreate = z.input<typeof DeploymentScheduleCreate>;

/**
 * A schedule in `PATCH /deployments/{id}` `schedules`, which replace the deployment's: the
 * contract's DeploymentScheduleUpdate, whose fields may be null (null `active` is active, null
 * `parameters` none). Its `schedule` is required: a schedule without one schedules nothing.
 */
export const DeploymentScheduleReplacement = lazySchema(() =>
  z.strictObject({
    schedule: Schedule,
    active: z
      .boolean()
      .nullish()
      .transform((v) => v ?? true),
    max_scheduled_runs: MaxScheduledRuns.nullish(),
    parameters: JsonObject.nullish().transform((v) => v ?? {}),
    slug: z.string().min(1).max(5000).nullish(),
    replaces: z.string().nullish(),
  }));

/** A partial update of one schedule: fields left out (or null) keep their value. */
export const DeploymentScheduleUpdate = lazySchema(() =>
  z.strictObject({
    schedule: Schedule.nullish(),
    active: z.boolean().nullish(),
    max_scheduled_runs: MaxScheduledRuns.nullish(),
    parameters: JsonObject.nullish(),
    slug: z.string().min(1).max(5000).nullish(),
    replaces: z.string().nullish(),
  }));
export type DeploymentScheduleUpdate = z.input<typeof DeploymentScheduleUpdate>;

export const DeploymentSchedule = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    deployment_id: Id.nullable(),
    schedule: Schedule,
    active: z.boolean(),
    max_scheduled_runs: z.number().int().nullable(),
    parameters: JsonObject,
    slug: z.string().nullable(),
  }));
export type DeploymentSchedule = z.infer<typeof DeploymentSchedule>;

export const ConcurrencyOptions = lazySchema(() =>
  z.object({
    collision_strategy: z.enum(["ENQUEUE", "CANCEL_NEW"]),
    grace_period_seconds: z.number().int().min(60).max(86400).nullable().default(null),
  }));

export const DeploymentStatus = lazySchema(() => z.enum(["READY", "NOT_READY"]));

export const Deployment = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    version: z.string().nullable(),
    description: z.string().nullable(),
    flow_id: Id,
    paused: z.boolean(),
    schedules: z.array(DeploymentSchedule),
    concurrency_limit: z.number().int().nullable(),
    global_concurrency_limit: z.null(),
    concurrency_options: ConcurrencyOptions.nullable(),
    job_variables: JsonObject,
    parameters: JsonObject,
    tags: z.array(z.string()),
    labels: Labels,
    work_queue_name: z.string().nullable(),
    work_queue_id: Id.nullable(),
    last_polled: z.string().nullable(),
    parameter_openapi_schema: JsonObject.nullable(),
    path: z.string().nullable(),
    pull_steps: z.array(JsonObject).nullable(),
    entrypoint: z.string().nullable(),
    storage_document_id: Id.nullable(),
    infrastructure_document_id: Id.nullable(),
    created_by: CreatedBy.nullable(),
    updated_by: CreatedBy.nullable(),
    work_pool_name: z.string().nullable(),
    status: DeploymentStatus.nullable(),
    enforce_parameter_schema: z.boolean(),
  }));
export type Deployment = z.infer<typeof Deployment>;

export const DeploymentCreate = lazySchema(() =>
  z.strictObject({
    name: Name,
    flow_id: Id,
    paused: z.boolean().default(false),
    schedules: z.array(DeploymentScheduleCreate).default([]),
    concurrency_limit: Int32.positive().nullish(),
    concurrency_options: ConcurrencyOptions.nullish(),
    global_concurrency_limit_id: Id.nullish(),
    enforce_parameter_schema: z.boolean().default(true),
    parameter_openapi_schema: JsonObject.nullish(),
    parameters: JsonObject.default({}),
    tags: Tags.default([]),
    labels: Labels.nullish(),
    pull_steps: z.array(JsonObject).nullish(),
    work_queue_name: z.string().nullish(),
    work_pool_name: z.string().nullish(),
    storage_document_id: Id.nullish(),
    infrastructure_document_id: Id.nullish(),
    description: z.string().nullish(),
    path: z.string().nullish(),
    version: z.string().nullish(),
    entrypoint: z.string().nullish(),
    job_variables: JsonObject.default({}),
    version_info: JsonObject.nullish(),
  }));
export type DeploymentCreate = z.input<typeof DeploymentCreate>;

/** A partial update: only the fields sent change (no defaults, unlike DeploymentCreate). */
export const DeploymentUpdate = lazySchema(() =>
  z.strictObject({
    paused: z.boolean().optional(),
    schedules: z.array(DeploymentScheduleReplacement).optional(),
    concurrency_limit: Int32.positive().nullish(),
    concurrency_options: ConcurrencyOptions.nullish(),
    global_concurrency_limit_id: Id.nullish(),
    enforce_parameter_schema: z.boolean().optional(),
    parameter_openapi_schema: JsonObject.nullish(),
    parameters: JsonObject.optional(),
    tags: Tags.optional(),
    labels: Labels.nullish(),
    pull_steps: z.array(JsonObject).nullish(),
    work_queue_name: z.string().nullish(),
    work_pool_name: z.string().nullish(),
    storage_document_id: Id.nullish(),
    infrastructure_document_id: Id.nullish(),
    description: z.string().nullish(),
    path: z.string().nullish(),
    version: z.string().nullish(),
    entrypoint: z.string().nullish(),
    job_variables: JsonObject.optional(),
    version_info: JsonObject.nullish(),
  }));
export type DeploymentUpdate = z.infer<typeof DeploymentUpdate>;

export const DeploymentFlowRunCreate = lazySchema(() =>
  z.strictObject({
    name: z.string().max(5000).nullish(),
    state: StateCreate.nullish(),
    parameters: JsonObject.default({}),
    context: JsonObject.default({}),
    enforce_parameter_schema: z.boolean().nullish(),
    infrastructure_document_id: Id.nullish(),
    empirical_policy: FlowRunPolicy.prefault({}),
    tags: Tags.default([]),
    labels: Labels.nullish(),
    idempotency_key: z.string().max(5000).nullish(),
    parent_task_run_id: Id.nullish(),
    work_queue_name: z.string().nullish(),
    job_variables: JsonObject.nullish(),
  }));
export type DeploymentFlowRunCreate = z.input<typeof DeploymentFlowRunCreate>;

/** Most runs one `POST /deployments/{id}/create_flow_run/bulk` creates. */
export const MAX_BULK_FLOW_RUNS = 100;

export const DeploymentFlowRunBulkCreateBody = lazySchema(() => z.array(DeploymentFlowRunCreate).max(MAX_BULK_FLOW_RUNS, `must hold at most ${MAX_BULK_FLOW_RUNS} flow runs`));

/** One run of a bulk create: its id when created, or why not. */
export const FlowRunCreateResult = lazySchema(() =>
  z.object({
    flow_run_id: Id.nullable(),
    status: z.enum(["CREATED", "FAILED"]),
    error: z.string().nullable(),
  }));
export type FlowRunCreateResult = z.infer<typeof FlowRunCreateResult>;

export const FlowRunBulkCreateResponse = lazySchema(() => z.object({ results: z.array(FlowRunCreateResult) }));
export type FlowRunBulkCreateResponse = z.infer<typeof FlowRunBulkCreateResponse>;

/** `POST /deployments/get_scheduled_flow_runs`: what a `serve()` process polls. */
export const DeploymentScheduledFlowRunsBody = lazySchema(() =>
  z.strictObject({
    deployment_ids: z.array(Id).max(MAX_FILTER_VALUES),
    scheduled_before: DateTime.nullish(),
    limit: z.number().int().min(0).max(MAX_FILTER_LIMIT).nullish(),
  }));
export type DeploymentScheduledFlowRunsBody = z.input<typeof DeploymentScheduledFlowRunsBody>;

/**
 * `POST /deployments/{id}/schedule`: schedule runs now, between `start_time` and `end_time`
 * (defaults: now, and now + the scheduler's horizon), at least `min_runs` and until at least
 * `min_time` seconds after the start, at most `max_runs` per schedule.
 */
export const DeploymentScheduleRunsBody = lazySchema(() =>
  z
    .strictObject({
      start_time: DateTime.nullish(),
      end_time: DateTime.nullish(),
      min_time: z.number().min(0, "must be 0 or more seconds").max(MAX_INTERVAL_SECONDS).nullish(),
      min_runs: Int32.min(0, "must be 0 or more").max(MAX_SCHEDULED_RUNS_PER_SCHEDULE).nullish(),
      max_runs: MaxScheduledRuns.nullish(),
    })
    .refine((b) => !b.start_time || !b.end_time || Date.parse(b.end_time) >= Date.parse(b.start_time), {
      message: "must not be before start_time",
      path: ["end_time"],
    }));
export type DeploymentScheduleRunsBody = z.input<typeof DeploymentScheduleRunsBody>;

export const DeploymentBulkDeleteBody = lazySchema(() =>
  z.strictObject({
    deployments: DeploymentFilter.nullish(),
    limit: z.number().int().min(1).max(50).default(50),
  }));
export const DeploymentBulkDeleteResponse = lazySchema(() => z.object({ deleted: z.array(Id) }));
