import { z } from "zod";
import { DateTime, Id, Labels, Tags } from "../primitives.js";
import { StateCreate } from "../states.js";
import { lazySchema } from "../lazy-schema.js";
import { TaskRunPolicy } from "./policies.js";
import { TaskRunInput } from "./task-run.js";

/**
 * Client-side task orchestration (as in Prefect 3): the SDK runs a flow's tasks itself and
 * reports each task run's states as events, `prefect.task-run.<StateName>` for the resource
 * `prefect.task-run.<id>`, with the task run as the SDK keeps it in the payload. The server's
 * task run recorder turns them into task_run and task_run_state rows: the event's id is the
 * state's id and its `occurred` the state's timestamp.
 */
export const TASK_RUN_EVENT_PREFIX = "prefect.task-run.";

/** The task run in a task-run state event: what the run's row holds once that state is set. */
export const TaskRunEventRun = lazySchema(() =>
  z.object({
    id: Id,
    name: z.string().min(1, "must not be empty").max(5000),
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
    run_count: z.number().int().min(0).default(0),
    flow_run_run_count: z.number().int().min(0).default(0),
    created: DateTime.nullish(),
    expected_start_time: DateTime.nullish(),
    next_scheduled_start_time: DateTime.nullish(),
    start_time: DateTime.nullish(),
    end_time: DateTime.nullish(),
    total_run_time: z.number().min(0).default(0),
  }));
export type TaskRunEventRun = z.infer<typeof TaskRunEventRun>;

export const TaskRunStateEventPayload = lazySchema(() =>
  z.object({
    task_run: TaskRunEventRun,
    /** The state set; its id and timestamp are the event's. */
    validated_state: StateCreate.omit({ timestamp: true }),
    intended: z.object({ from: z.string().nullable(), to: z.string() }).partial().optional(),
  }));
export type TaskRunStateEventPayload = z.infer<typeof TaskRunStateEventPayload>;
