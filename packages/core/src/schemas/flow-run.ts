import { z } from "zod";
import { CreatedBy, DateTime, Id, JsonObject, Labels, Tags } from "../primitives.js";
import { State, StateCreate, StateType } from "../states.js";
import { FlowRunPolicy } from "./policies.js";
import { lazySchema } from "../lazy-schema.js";

export const FlowRun = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    flow_id: Id,
    state_id: Id.nullable(),
    deployment_id: Id.nullable(),
    deployment_version: z.string().nullable(),
    work_queue_id: Id.nullable(),
    work_queue_name: z.string().nullable(),
    work_pool_id: Id.nullable(),
    work_pool_name: z.string().nullable(),
    flow_version: z.string().nullable(),
    parameters: JsonObject,
    idempotency_key: z.string().nullable(),
    context: JsonObject,
    empirical_policy: FlowRunPolicy,
    tags: z.array(z.string()),
    labels: Labels,
    parent_task_run_id: Id.nullable(),
    state_type: StateType.nullable(),
    state_name: z.string().nullable(),
    run_count: z.number().int(),
    expected_start_time: z.string().nullable(),
    next_scheduled_start_time: z.string().nullable(),
    start_time: z.string().nullable(),
    end_time: z.string().nullable(),
    total_run_time: z.number(),
    estimated_run_time: z.number(),
    estimated_start_time_delta: z.number(),
    auto_scheduled: z.boolean(),
    infrastructure_document_id: Id.nullable(),
    infrastructure_pid: z.string().nullable(),
    created_by: CreatedBy.nullable(),
    job_variables: JsonObject.nullable(),
    state: State.nullable(),
  }));
export type FlowRun = z.infer<typeof FlowRun>;

export const FlowRunCreate = lazySchema(() =>
  z.strictObject({
    id: Id.nullish(),
    name: z.string().max(5000).nullish(),
    flow_id: Id,
    flow_version: z.string().nullish(),
    state: StateCreate.nullish(),
    parameters: JsonObject.default({}),
    context: JsonObject.default({}),
    parent_task_run_id: Id.nullish(),
    infrastructure_document_id: Id.nullish(),
    empirical_policy: FlowRunPolicy.prefault({}),
    tags: Tags.default([]),
    labels: Labels.nullish(),
    idempotency_key: z.string().max(5000).nullish(),
    work_pool_name: z.string().nullish(),
    work_queue_name: z.string().nullish(),
    job_variables: JsonObject.nullish(),
    deployment_id: Id.nullish(),
  }));
export type FlowRunCreate = z.input<typeof FlowRunCreate>;

export const FlowRunUpdate = lazySchema(() =>
  z.strictObject({
    name: z.string().max(5000).nullish(),
    flow_version: z.string().nullish(),
    parameters: JsonObject.optional(),
    empirical_policy: FlowRunPolicy.optional(),
    tags: Tags.optional(),
    infrastructure_pid: z.string().nullish(),
    job_variables: JsonObject.nullish(),
  }));
export type FlowRunUpdate = z.infer<typeof FlowRunUpdate>;

export const HistoryBody = lazySchema(() =>
  z.object({
    history_start: DateTime,
    history_end: DateTime,
    history_interval_seconds: z.number().min(1, "must be at least 1 second"),
  }));

export const HistoryStateCount = lazySchema(() =>
  z.object({
    state_type: StateType,
    state_name: z.string(),
    count_runs: z.number().int(),
    sum_estimated_run_time: z.number(),
    sum_estimated_lateness: z.number(),
  }));
export const HistoryInterval = lazySchema(() =>
  z.object({
    interval_start: z.string(),
    interval_end: z.string(),
    states: z.array(HistoryStateCount),
  }));
export type HistoryInterval = z.infer<typeof HistoryInterval>;
