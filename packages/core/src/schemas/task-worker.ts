import { z } from "zod";
import { lazySchema } from "../lazy-schema.js";
import { MAX_FILTER_VALUES } from "./filters.js";

/**
 * Task workers (`serveTasks()`, Prefect's `serve(*tasks)`): processes subscribed to the
 * server's websocket of scheduled background task runs, for some task keys.
 */
export const TaskWorkerFilter = lazySchema(() =>
  z.object({
    /** Workers serving any of these keys; an empty list matches every worker. */
    task_keys: z.array(z.string()).max(MAX_FILTER_VALUES),
  }),
);
export type TaskWorkerFilter = z.infer<typeof TaskWorkerFilter>;

export const TaskWorkerFilterBody = lazySchema(() =>
  z.object({
    task_worker_filter: TaskWorkerFilter.nullish(),
  }),
);
export type TaskWorkerFilterBody = z.infer<typeof TaskWorkerFilterBody>;

export const TaskWorkerResponse = lazySchema(() =>
  z.object({
    /** The worker's client id, as it subscribed. */
    identifier: z.string(),
    task_keys: z.array(z.string()),
    /** When it was last seen (subscribed, or acknowledged a run). */
    timestamp: z.string(),
  }),
);
export type TaskWorkerResponse = z.infer<typeof TaskWorkerResponse>;
