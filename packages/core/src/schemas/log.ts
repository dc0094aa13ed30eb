import { z } from "zod";
import { DateTime, Id } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";

export const Log = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    level: z.number().int(),
    message: z.string(),
    timestamp: z.string(),
    flow_run_id: Id.nullable(),
    task_run_id: Id.nullable(),
  }));
export type Log = z.infer<typeof Log>;

export const LogCreate = lazySchema(() =>
  z.strictObject({
    name: z.string().max(5000),
    level: z.number().int().min(0).max(100),
    message: z.string(),
    timestamp: DateTime,
    flow_run_id: Id.nullish(),
    task_run_id: Id.nullish(),
  }));
export type LogCreate = z.input<typeof LogCreate>;

/** Python's logging levels, which Prefect's log records use. */
export const LogLevel = { DEBUG: 10, INFO: 20, WARNING: 30, ERROR: 40, CRITICAL: 50 } as const;
