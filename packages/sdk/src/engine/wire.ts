import { Name, z, type FlowRunPolicy, type TaskRunPolicy } from "@baton/core";
import { toCachePolicy } from "../cache/policies.js";
import { InvalidOptionError } from "../errors.js";
import { resolveSerializer, type Serializer } from "../results/serializers.js";
import { storageKeyTemplate } from "../results/storage-key.js";
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
const Storage = z
  .custom<object>(
    (v) => v !== null && typeof v === "object" && ["readPath", "writePath", "deletePath", "describe"].every((m) => typeof (v as Record<string, unknown>)[m] === "function"),
    "must be a result storage (LocalFileSystem, S3Bucket, or an object with readPath, writePath, deletePath and describe)",
  )
  .optional();
const SerializerOption = z
  .union([
    z.string().min(1, "must not be empty"),
    z.custom<object>(
      (v) => v !== null && typeof v === "object" && typeof (v as Record<string, unknown>).type === "string" && typeof (v as Record<string, unknown>).dumps === "function" && typeof (v as Record<string, unknown>).loads === "function",
      "must be a serializer name or an object with type, dumps and loads",
    ),
  ])
  .optional();
const Seconds = z.number({ error: "must be a number of seconds" }).positive("must be a number of seconds above 0").finite("must be a finite number of seconds");
const ResultOptions = {
  persistResult: z.boolean().optional(),
  resultStorage: Storage,
  resultSerializer: SerializerOption,
};

const FlowOptionsSchema = z.looseObject({
  ...Common,
  retryDelaySeconds: z.number().min(0, "must be 0 or more").finite().optional(),
  onCompletion: Hooks,
  onFailure: Hooks,
  ...ResultOptions,
});

const TaskOptionsSchema = z.looseObject({
  ...Common,
  retryDelaySeconds: z
    .union([z.number().min(0, "must be 0 or more").finite(), z.array(z.number().min(0, "must be 0 or more").finite()).min(1, "must not be empty")])
    .optional(),
  retryJitterFactor: z.number().min(0, "must be 0 or more").finite().optional(),
  cacheKeyFn: z.function().optional(),
  cacheExpiration: Seconds.optional(),
  cacheExpirationSeconds: Seconds.optional(),
  refreshCache: z.boolean().optional(),
  resultStorageKey: z.string({ error: "must be a string template" }).optional(),
  onCompletion: Hooks,
  onFailure: Hooks,
  onCommit: Hooks,
  onRollback: Hooks,
  ...ResultOptions,
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
  checkSerializer(options.resultSerializer, "flow");
}

export function validateTaskOptions(options: TaskOptions<never>): void {
  check(TaskOptionsSchema, options, "task");
  checkSerializer(options.resultSerializer, "task");
  // A cache policy that is not one throws naming the field; a list is checked element by element.
  if (options.cachePolicy !== undefined) toCachePolicy(options.cachePolicy);
  if (options.resultStorageKey !== undefined) {
    if (options.persistResult === false) throw new InvalidOptionError("task.resultStorageKey", "names where the result is persisted, so it cannot go with persistResult: false");
    storageKeyTemplate(options.resultStorageKey, "task.resultStorageKey");
  }
}

/** An unknown serializer name fails at flow() / task() time, not when the first result is written. */
function checkSerializer(serializer: string | Serializer | undefined, what: string): void {
  if (typeof serializer !== "string") return;
  try {
    resolveSerializer(serializer);
  } catch (error) {
    throw new InvalidOptionError(`${what}.resultSerializer`, error instanceof Error ? error.message : String(error));
  }
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


