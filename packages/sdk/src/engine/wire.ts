import { Name, z, type FlowRunPolicy, type TaskRunPolicy } from "@baton/core";
import { InvalidOptionError } from "../errors.js";
import type { FlowOptions } from "../flow.js";
import type { TaskOptions } from "../task.js";

/**
 * The one place where camelCase options become the API's snake_case fields, and where the
 * options are checked (at `flow()` / `task()` time, naming the bad field).
 */

const Common = {
  name: Name.optional(),
  description: z.string().optional(),
  version: z.string().optional(),
  retries: z.number().int("must be a whole number").min(0, "must be 0 or more").optional(),
  timeoutSeconds: z.number().positive("must be more than 0").finite().optional(),
  tags: z.array(z.string().max(500)).max(200).optional(),
  logPrints: z.boolean().optional(),
};
const Hooks = z.union([z.function(), z.array(z.function())]).optional();

const FlowOptionsSchema = z.looseObject({
  ...Common,
  retryDelaySeconds: z.number().min(0, "must be 0 or more").finite().optional(),
  onCompletion: Hooks,
  onFailure: Hooks,
});

const TaskOptionsSchema = z.looseObject({
  ...Common,
  retryDelaySeconds: z
    .union([z.number().min(0, "must be 0 or more").finite(), z.array(z.number().min(0, "must be 0 or more").finite()).min(1, "must not be empty")])
    .optional(),
  retryJitterFactor: z.number().min(0, "must be 0 or more").finite().optional(),
  cacheKeyFn: z.function().optional(),
  cacheExpirationSeconds: z.number().positive("must be more than 0").finite().optional(),
  onCompletion: Hooks,
  onFailure: Hooks,
});

function check(schema: z.ZodType, options: object, what: string): void {
  const parsed = schema.safeParse(options);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new InvalidOptionError(`${what}.${issue?.path.join(".") || "options"}`, issue?.message ?? "invalid value");
  }
}

export function validateFlowOptions(options: FlowOptions): void {
  check(FlowOptionsSchema, options, "flow");
}

export function validateTaskOptions(options: TaskOptions<never>): void {
  check(TaskOptionsSchema, options, "task");
}

/** `empirical_policy` of a flow run: the server's RetryFailedFlows rule reads `retries` / `retry_delay`. */
export function flowRunPolicy(options: FlowOptions): FlowRunPolicy {
  return {
    max_retries: 0,
    retry_delay_seconds: 0,
    retries: options.retries ?? 0,
    retry_delay: options.retryDelaySeconds ?? 0,
    pause_keys: null,
    resuming: false,
    retry_type: null,
  };
}

/** `empirical_policy` of a task run: the server's RetryFailedTasks rule reads these. */
export function taskRunPolicy(options: TaskOptions<never>): TaskRunPolicy {
  return {
    max_retries: 0,
    retry_delay_seconds: 0,
    retries: options.retries ?? 0,
    retry_delay: options.retryDelaySeconds ?? 0,
    retry_jitter_factor: options.retryJitterFactor ?? null,
  };
}

/** `state_details.cache_expiration` for a COMPLETED state written now; null means it never expires. */
export function cacheExpiration(options: TaskOptions<never>, now = Date.now()): string | null {
  return options.cacheExpirationSeconds === undefined ? null : new Date(now + options.cacheExpirationSeconds * 1000).toISOString();
}
