import { z } from "zod";
import { DateTime, Id, Labels, Tags } from "../primitives.js";
import { State, StateCreate, StateType } from "../states.js";
import { TaskRunPolicy } from "./policies.js";
import { lazySchema } from "../lazy-schema.js";

/** Where a task run's input came from: a parameter, a constant, or another task run. */
export const TaskRunInput = lazySchema(() =>
  z.union([
    z.object({ input_type: z.literal("task_run"), id: Id }),
    z.object({ input_type: z.literal("parameter"), name: z.string() }),
    z.object({ input_type: z.literal("constant"), type: z.string() }),
  ]));

export const TaskRun = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    flow_run_id: Id.nullable(),
    task_key: z.string(),
    dynamic_key: z.string(),
    cache_key: z.string().nullable(),
    cache_expiration: z.string().nullable(),
    task_version: z.string().nullable(),
    empirical_policy: TaskRunPolicy,
    tags: z.array(z.string()),
    labels: Labels,
    state_id: Id.nullable(),
    task_inputs: z.record(z.string(), z.array(TaskRunInput)),
    state_type: StateType.nullable(),
    state_name: z.string().nullable(),
    run_count: z.number().int(),
    flow_run_run_count: z.number().int(),
    expected_start_time: z.string().nullable(),
    next_scheduled_start_time: z.string().nullable(),
    start_time: z.string().nullable(),
    end_time: z.string().nullable(),
    total_run_time: z.number(),
    estimated_run_time: z.number(),
    estimated_start_time_delta: z.number(),
    state: State.nullable(),
  }));
export type TaskRun = z.infer<typeof TaskRun>;

export const TaskRunCreate = lazySchema(() =>
  z.strictObject({
    id: Id.nullish(),
    name: z.string().max(5000).nullish(),
    flow_run_id: Id.nullish(),
    task_key: z.string().min(1, "must not be empty").max(5000),
    dynamic_key: z.string().max(5000),
    cache_key: z.string().max(5000).nullish(),
    cache_expiration: DateTime.nullish(),
    task_version: z.string().nullish(),
    empirical_policy: TaskRunPolicy.prefault({}),
    tags: Tags.default([]),
    labels: Labels.nullish(),
    task_inputs: z.record(z.string(), z.array(TaskRunInput)).default({}),
    state: StateCreate.nullish(),
  }));
export type TaskRunCreate = z.input<typeof TaskRunCreate>;

export const TaskRunUpdate = lazySchema(() =>
  z.strictObject({
    name: z.string().max(5000).nullish(),
  }));
export type TaskRunUpdate = z.infer<typeof TaskRunUpdate>;
