import { z } from "zod";
import { lazySchema } from "../lazy-schema.js";

/** Retry settings of a flow run (`empirical_policy`). Unknown legacy keys are kept out. */
export const FlowRunPolicy = lazySchema(() =>
  z.object({
    max_retries: z.number().int().min(0).max(1_000_000).default(0),
    retry_delay_seconds: z.number().min(0).default(0),
    retries: z.number().int().min(0).max(1_000_000).nullable().default(null),
    retry_delay: z.number().min(0).nullable().default(null),
    pause_keys: z.array(z.string()).nullable().default(null),
    resuming: z.boolean().nullable().default(false),
    retry_type: z.enum(["in_process", "reschedule"]).nullable().default(null),
  }));
export type FlowRunPolicy = z.infer<typeof FlowRunPolicy>;

/** Retry settings of a task run: `retry_delay` may be one delay or one per attempt. */
export const TaskRunPolicy = lazySchema(() =>
  z.object({
    max_retries: z.number().int().min(0).max(1_000_000).default(0),
    retry_delay_seconds: z.number().min(0).default(0),
    retries: z.number().int().min(0).max(1_000_000).nullable().default(null),
    retry_delay: z.union([z.number().min(0), z.array(z.number().min(0))]).nullable().default(null),
    retry_jitter_factor: z.number().min(0).nullable().default(null),
  }));
export type TaskRunPolicy = z.infer<typeof TaskRunPolicy>;

export const DEFAULT_FLOW_RUN_POLICY: FlowRunPolicy = FlowRunPolicy.parse({});
export const DEFAULT_TASK_RUN_POLICY: TaskRunPolicy = TaskRunPolicy.parse({});
