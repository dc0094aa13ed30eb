import { homedir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { isEncryptionKey } from "./blocks/encryption.js";
import type { MessagingConfig } from "./messaging/index.js";

/**
 * Every server setting, read once from the environment at boot. A bad value stops the
 * start with a message that names the variable. `baton config view` prints these.
 */
/** The background services, by the name used in BATON_SERVER_SERVICES_<NAME>_* settings. */
export const SERVICE_NAMES = ["scheduler", "late_runs", "zombies", "foreman", "cancellation_cleanup", "pause_expirations", "concurrency_lease_expirations", "retention"] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

/** How often each service runs a pass by default, in seconds. */
const DEFAULT_LOOP_SECONDS: Record<ServiceName, number> = {
  scheduler: 60,
  late_runs: 5,
  zombies: 10,
  foreman: 15,
  cancellation_cleanup: 20,
  pause_expirations: 5,
  concurrency_lease_expirations: 5,
  retention: 900,
};

const bool = z
  .enum(["true", "false", "1", "0", "yes", "no", "on", "off", "TRUE", "FALSE", "True", "False"])
  .transform((v) => ["true", "1", "yes", "on"].includes(v.toLowerCase()));
const seconds = z.coerce.number().positive();
const count = z.coerce.number().int().min(1);

const EnvSchema = z.object({
  BATON_HOME: z.string().min(1).optional(),
  BATON_DATABASE_URL: z
    .string()
    .refine((s) => /^(postgres(ql)?:\/\/|sqlite:|file:)/.test(s), {
      message: "must start with postgresql://, sqlite: or file:",
    })
    .optional(),
  BATON_DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]*$/, "must be a lower-case SQL identifier")
    .optional(),
  BATON_DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(1000).default(10),
  BATON_SERVER_HOST: z.string().min(1).default("127.0.0.1"),
  BATON_SERVER_PORT: z.coerce.number().int().min(0).max(65535).default(4200),
  BATON_SERVER_BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).default(10 * 1024 * 1024),
  BATON_SERVER_ENCRYPTION_KEY: z.string().refine(isEncryptionKey, { message: "must be 32 bytes written as base64 or as 64 hex digits" }).optional(),
  BATON_LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  BATON_SERVER_SERVICES_SCHEDULER_MIN_RUNS: count.default(3),
  BATON_SERVER_SERVICES_SCHEDULER_MAX_RUNS: count.default(100),
  BATON_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME_SECONDS: seconds.default(3600),
  BATON_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME_SECONDS: seconds.default(100 * 86400),
  BATON_SERVER_SERVICES_SCHEDULER_DEPLOYMENT_BATCH_SIZE: count.default(100),
  BATON_SERVER_SERVICES_SCHEDULER_INSERT_BATCH_SIZE: count.default(500),
  BATON_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS: seconds.default(15),
  BATON_SERVER_SERVICES_ZOMBIES_HEARTBEAT_TIMEOUT_SECONDS: seconds.default(90),
  BATON_SERVER_SERVICES_FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE: count.default(3),
  BATON_SERVER_SERVICES_FOREMAN_FALLBACK_HEARTBEAT_INTERVAL_SECONDS: seconds.default(30),
  BATON_SERVER_SERVICES_CANCELLATION_CLEANUP_TIMEOUT_SECONDS: seconds.default(60),
  BATON_SERVER_TASK_RUN_TAG_CONCURRENCY_SLOT_WAIT_SECONDS: z.coerce.number().min(0).max(3600).default(30),
  BATON_SERVER_TASK_WORKER_GRACE_SECONDS: z.coerce.number().min(0).default(30),
  BATON_MESSAGING: z.enum(["memory", "redis"]).default("memory"),
  BATON_MESSAGING_REDIS_URL: z.string().regex(/^rediss?:\/\//, "must start with redis:// or rediss://").default("redis://127.0.0.1:6379"),
  BATON_MESSAGING_REDIS_PREFIX: z.string().default("baton:"),
  BATON_MESSAGING_REDIS_STREAM_MAXLEN: z.coerce.number().int().min(100).default(100_000),
  BATON_SERVER_EVENTS_RETENTION_DAYS: z.coerce.number().min(0).default(7),
  BATON_SERVER_LOGS_RETENTION_DAYS: z.coerce.number().min(0).default(0),
  ...Object.fromEntries(
    SERVICE_NAMES.flatMap((name) => [
      [`BATON_SERVER_SERVICES_${name.toUpperCase()}_ENABLED`, bool.default(true)],
      [`BATON_SERVER_SERVICES_${name.toUpperCase()}_LOOP_SECONDS`, seconds.default(DEFAULT_LOOP_SECONDS[name])],
    ]),
  ) as Record<string, z.ZodDefault<typeof bool> | z.ZodDefault<typeof seconds>>,
});

export interface ServerConfig {
  home: string;
  /** `sqlite:<path>` or a `postgresql://` URL. */
  databaseUrl: string;
  /** PostgreSQL schema to use (created if missing); unset means `public`. */
  databaseSchema: string | undefined;
  databasePoolSize: number;
  host: string;
  port: number;
  /** Largest request body accepted; larger ones get HTTP 413. */
  bodyLimitBytes: number;
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  /** Key of the block documents' at-rest encryption; unset means the key file `$BATON_HOME/encryption.key`. */
  encryptionKey: string | undefined;
  /** Each background service: whether it runs, and how often. */
  services: Record<ServiceName, { enabled: boolean; loopSeconds: number }>;
  scheduler: {
    /** At least this many future runs per schedule... */
    minRuns: number;
    /** ...and at most this many. */
    maxRuns: number;
    /** Schedule at least this far ahead, runs permitting. */
    minScheduledTimeSeconds: number;
    /** Never further ahead than this. */
    maxScheduledTimeSeconds: number;
    deploymentBatchSize: number;
    insertBatchSize: number;
  };
  /** A Scheduled run this long past its time is marked Late. */
  lateRunsAfterSeconds: number;
  /** A RUNNING flow run silent for this long is declared CRASHED. */
  zombieHeartbeatTimeoutSeconds: number;
  foreman: { inactivityHeartbeatMultiple: number; fallbackHeartbeatIntervalSeconds: number };
  /** A CANCELLING run with nothing to stop it is CANCELLED after this long. */
  cancellationCleanupTimeoutSeconds: number;
  /** A task run refused a slot of a tag's concurrency limit is told to wait this long (WAIT). */
  tagConcurrencySlotWaitSeconds: number;
  /**
   * A task worker gone this long (no connection with its client id) loses its claimed
   * background task runs: they are marked CRASHED, and retried when they have retries left.
   */
  taskWorkerGraceSeconds: number;
  /** The message bus events (and streamed logs) travel on. */
  messaging: MessagingConfig;
  /** Events older than this many days are deleted by the retention service (0 keeps them). */
  eventsRetentionDays: number;
  /** Logs older than this many days are deleted by the retention service (0 keeps them). */
  logsRetentionDays: number;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const variable = issue?.path.join(".") ?? "environment";
    throw new ConfigError(`Invalid setting ${variable}: ${issue?.message ?? "invalid value"}`);
  }
  const e = parsed.data;
  const home = e.BATON_HOME ?? join(homedir(), ".baton");
  return {
    home,
    databaseUrl: e.BATON_DATABASE_URL ?? `sqlite:${join(home, "baton.db")}`,
    databaseSchema: e.BATON_DATABASE_SCHEMA,
    databasePoolSize: e.BATON_DATABASE_POOL_SIZE,
    host: e.BATON_SERVER_HOST,
    port: e.BATON_SERVER_PORT,
    bodyLimitBytes: e.BATON_SERVER_BODY_LIMIT_BYTES,
    logLevel: e.BATON_LOG_LEVEL,
    encryptionKey: e.BATON_SERVER_ENCRYPTION_KEY,
    services: Object.fromEntries(
      SERVICE_NAMES.map((name) => {
        const upper = name.toUpperCase();
        const raw = e as unknown as Record<string, boolean | number>;
        return [name, { enabled: raw[`BATON_SERVER_SERVICES_${upper}_ENABLED`] as boolean, loopSeconds: raw[`BATON_SERVER_SERVICES_${upper}_LOOP_SECONDS`] as number }];
      }),
    ) as ServerConfig["services"],
    scheduler: {
      minRuns: e.BATON_SERVER_SERVICES_SCHEDULER_MIN_RUNS,
      maxRuns: e.BATON_SERVER_SERVICES_SCHEDULER_MAX_RUNS,
      minScheduledTimeSeconds: e.BATON_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME_SECONDS,
      maxScheduledTimeSeconds: e.BATON_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME_SECONDS,
      deploymentBatchSize: e.BATON_SERVER_SERVICES_SCHEDULER_DEPLOYMENT_BATCH_SIZE,
      insertBatchSize: e.BATON_SERVER_SERVICES_SCHEDULER_INSERT_BATCH_SIZE,
    },
    lateRunsAfterSeconds: e.BATON_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS,
    zombieHeartbeatTimeoutSeconds: e.BATON_SERVER_SERVICES_ZOMBIES_HEARTBEAT_TIMEOUT_SECONDS,
    foreman: {
      inactivityHeartbeatMultiple: e.BATON_SERVER_SERVICES_FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE,
      fallbackHeartbeatIntervalSeconds: e.BATON_SERVER_SERVICES_FOREMAN_FALLBACK_HEARTBEAT_INTERVAL_SECONDS,
    },
    cancellationCleanupTimeoutSeconds: e.BATON_SERVER_SERVICES_CANCELLATION_CLEANUP_TIMEOUT_SECONDS,
    tagConcurrencySlotWaitSeconds: e.BATON_SERVER_TASK_RUN_TAG_CONCURRENCY_SLOT_WAIT_SECONDS,
    taskWorkerGraceSeconds: e.BATON_SERVER_TASK_WORKER_GRACE_SECONDS,
    messaging: {
      broker: e.BATON_MESSAGING,
      redisUrl: e.BATON_MESSAGING_REDIS_URL,
      redisPrefix: e.BATON_MESSAGING_REDIS_PREFIX,
      redisStreamMaxLength: e.BATON_MESSAGING_REDIS_STREAM_MAXLEN,
    },
    eventsRetentionDays: e.BATON_SERVER_EVENTS_RETENTION_DAYS,
    logsRetentionDays: e.BATON_SERVER_LOGS_RETENTION_DAYS,
  };
}

/** Settings as `baton config view` shows them, with where each came from. */
export function describeConfig(config: ServerConfig): Array<{ setting: string; value: string }> {
  return [
    { setting: "BATON_HOME", value: config.home },
    { setting: "BATON_DATABASE_URL", value: redactUrl(config.databaseUrl) },
    { setting: "BATON_DATABASE_SCHEMA", value: config.databaseSchema ?? "(public)" },
    { setting: "BATON_DATABASE_POOL_SIZE", value: String(config.databasePoolSize) },
    { setting: "BATON_SERVER_HOST", value: config.host },
    { setting: "BATON_SERVER_PORT", value: String(config.port) },
    { setting: "BATON_SERVER_BODY_LIMIT_BYTES", value: String(config.bodyLimitBytes) },
    { setting: "BATON_LOG_LEVEL", value: config.logLevel },
    { setting: "BATON_SERVER_ENCRYPTION_KEY", value: config.encryptionKey === undefined ? `(unset: key file ${join(config.home, "encryption.key")})` : "(set)" },
    ...SERVICE_NAMES.flatMap((name) => [
      { setting: `BATON_SERVER_SERVICES_${name.toUpperCase()}_ENABLED`, value: String(config.services[name].enabled) },
      { setting: `BATON_SERVER_SERVICES_${name.toUpperCase()}_LOOP_SECONDS`, value: String(config.services[name].loopSeconds) },
    ]),
    { setting: "BATON_SERVER_SERVICES_SCHEDULER_MIN_RUNS", value: String(config.scheduler.minRuns) },
    { setting: "BATON_SERVER_SERVICES_SCHEDULER_MAX_RUNS", value: String(config.scheduler.maxRuns) },
    { setting: "BATON_SERVER_SERVICES_SCHEDULER_MIN_SCHEDULED_TIME_SECONDS", value: String(config.scheduler.minScheduledTimeSeconds) },
    { setting: "BATON_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME_SECONDS", value: String(config.scheduler.maxScheduledTimeSeconds) },
    { setting: "BATON_SERVER_SERVICES_SCHEDULER_DEPLOYMENT_BATCH_SIZE", value: String(config.scheduler.deploymentBatchSize) },
    { setting: "BATON_SERVER_SERVICES_SCHEDULER_INSERT_BATCH_SIZE", value: String(config.scheduler.insertBatchSize) },
    { setting: "BATON_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS", value: String(config.lateRunsAfterSeconds) },
    { setting: "BATON_SERVER_SERVICES_ZOMBIES_HEARTBEAT_TIMEOUT_SECONDS", value: String(config.zombieHeartbeatTimeoutSeconds) },
    { setting: "BATON_SERVER_SERVICES_FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE", value: String(config.foreman.inactivityHeartbeatMultiple) },
    { setting: "BATON_SERVER_SERVICES_FOREMAN_FALLBACK_HEARTBEAT_INTERVAL_SECONDS", value: String(config.foreman.fallbackHeartbeatIntervalSeconds) },
    { setting: "BATON_SERVER_SERVICES_CANCELLATION_CLEANUP_TIMEOUT_SECONDS", value: String(config.cancellationCleanupTimeoutSeconds) },
    { setting: "BATON_SERVER_TASK_WORKER_GRACE_SECONDS", value: String(config.taskWorkerGraceSeconds) },
    { setting: "BATON_MESSAGING", value: config.messaging.broker },
    { setting: "BATON_MESSAGING_REDIS_URL", value: redactUrl(config.messaging.redisUrl) },
    { setting: "BATON_MESSAGING_REDIS_PREFIX", value: config.messaging.redisPrefix },
    { setting: "BATON_MESSAGING_REDIS_STREAM_MAXLEN", value: String(config.messaging.redisStreamMaxLength) },
    { setting: "BATON_SERVER_EVENTS_RETENTION_DAYS", value: String(config.eventsRetentionDays) },
    { setting: "BATON_SERVER_LOGS_RETENTION_DAYS", value: String(config.logsRetentionDays) },
  ];
}

function redactUrl(url: string): string {
  return url.replace(/\/\/([^:@/]*):([^@/]+)@/, "//$1:***@");
}
