import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";
import { ThrottledLog } from "./throttled-log.js";

/** How often the checkpointer copies the write-ahead log into the database file. */
const CHECKPOINT_EVERY_MS = 250;
/**
 * A log longer than this many pages (4 KiB each: 64 MiB) is truncated once a passive
 * checkpoint has copied all of it. Below it the file is left as it is: SQLite writes the log
 * from its start again after a complete checkpoint, and overwriting is cheaper than regrowing.
 */
const TRUNCATE_ABOVE_PAGES = 16_384;
/**
 * The checkpointer's own busy timeout. A truncation waits (in the busy handler) for readers
 * and writers while holding the write lock, so the server's writers would wait behind it:
 * with a few milliseconds it gives up instead, and the round is skipped.
 */
const CHECKPOINTER_BUSY_TIMEOUT_MS = 20;
/** Repeated failures are logged once per this many milliseconds, with how many there were. */
const FAILURE_LOG_EVERY_MS = 60_000;
/** A live worker that does not answer "stop" within this long is terminated. */
const STOP_GRACE_MS = 5_000;

/**
 * What one checkpoint round did:
 * - `empty`: the log held nothing;
 * - `copied`: a passive checkpoint copied every frame (the log is left in place, it is short);
 * - `truncated`: it copied every frame and the log, being long, was truncated to 0 bytes;
 * - `partial`: a reader on an older snapshot kept `log - checkpointed` frames from being
 *   copied; nothing waits for it, the next rounds copy them once it is done;
 * - `busy`: another connection held the checkpoint lock, or the truncation would have had to
 *   wait for a connection that began meanwhile; skipped, the next round tries again.
 */
export type CheckpointOutcome =
  | { kind: "empty" }
  | { kind: "copied"; log: number }
  | { kind: "truncated"; log: number }
  | { kind: "partial"; log: number; checkpointed: number }
  | { kind: "busy" };

/** Where the checkpointer reports its failures (pino's signature; the server passes its logger). */
export interface CheckpointerLogger {
  warn(details: object, message: string): void;
  error(details: object, message: string): void;
}

export interface CheckpointerOptions {
  /** Defaults to process warnings (stderr), throttled the same way. */
  logger?: CheckpointerLogger | undefined;
  everyMs?: number;
  truncateAbovePages?: number;
}

/**
 * The checkpointer's code, run in a worker thread with its own connection. A passive
 * checkpoint never blocks the server's writers; it copies what is committed and fsyncs the
 * files, which is what made SQLite's automatic checkpoints (run inside whichever COMMIT
 * crossed 1,000 pages) stall the server's event loop for milliseconds at a time. A truncation
 * is only tried when the passive checkpoint left nothing to copy, so it holds the write lock
 * for no more than the truncation itself.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = " + workerData.busyTimeoutMs);
function round() {
  const [passive] = db.pragma("wal_checkpoint(PASSIVE)");
  if (!passive || passive.busy) return { kind: "busy" };
  if (passive.log <= 0) return { kind: "empty" };
  if (passive.checkpointed < passive.log) return { kind: "partial", log: passive.log, checkpointed: passive.checkpointed };
  if (passive.log <= workerData.truncateAbovePages) return { kind: "copied", log: passive.log };
  const [truncate] = db.pragma("wal_checkpoint(TRUNCATE)");
  return truncate && !truncate.busy ? { kind: "truncated", log: passive.log } : { kind: "busy" };
}
function failure(error) {
  return String((error && error.message) || error);
}
const timer = setInterval(() => {
  try {
    round();
  } catch (error) {
    parentPort.postMessage({ type: "error", message: failure(error) });
  }
}, workerData.everyMs);
parentPort.on("message", (message) => {
  if (message.type === "round") {
    try {
      parentPort.postMessage({ type: "round", id: message.id, outcome: round() });
    } catch (error) {
      parentPort.postMessage({ type: "round", id: message.id, error: failure(error) });
    }
    return;
  }
  if (message.type !== "stop") return;
  clearInterval(timer);
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
  db.close();
  parentPort.postMessage({ type: "stopped" });
});
`;

type WorkerReply =
  | { type: "error"; message: string }
  | { type: "round"; id: number; outcome?: CheckpointOutcome; error?: string }
  | { type: "stopped" };

export interface Checkpointer {
  /** Runs a round now (besides the timer's) and tells what it did; for tests and tools. */
  checkpointNow(): Promise<CheckpointOutcome>;
  /** Resolves once the worker has closed its connection (its "stopped" reply) or has exited. */
  stop(): Promise<void>;
}

/** The checkpointer stopped, or failed a round requested with `checkpointNow`. */
export class CheckpointerError extends Error {
  override readonly name = "CheckpointerError";
}

/**
 * Moves the write-ahead log's checkpoints of the database file at `path` off this thread:
 * turns off automatic checkpoints on `connection` and runs them in a worker thread instead.
 * If the worker fails, automatic checkpoints come back on, so the log is never left to grow.
 */
export function startCheckpointer(path: string, connection: { pragma(source: string): unknown }, options: CheckpointerOptions = {}): Checkpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const logger = options.logger ?? warningLogger;
  const failures = new ThrottledLog(FAILURE_LOG_EVERY_MS);
  const logFailures = (count: number, last: string): void => logger.warn({ path, failures: count, error: last }, "SQLite checkpoints failed");
  const truncateAbovePages = options.truncateAbovePages ?? TRUNCATE_ABOVE_PAGES;
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: {
      path,
      driver,
      busyTimeoutMs: CHECKPOINTER_BUSY_TIMEOUT_MS,
      everyMs: options.everyMs ?? CHECKPOINT_EVERY_MS,
      truncateAbovePages,
    },
  });
  worker.unref();
  let stopping = false;
  let stopped: Promise<void> | undefined;
  let exited = false;
  const pending = new Map<number, { resolve: (outcome: CheckpointOutcome) => void; reject: (error: Error) => void }>();
  let nextId = 0;
  let onStopped: (() => void) | undefined;
  let fellBack = false;
  const fallBack = (message: string): void => {
    if (stopping || fellBack) return;
    fellBack = true;
    connection.pragma("wal_autocheckpoint = 1000");
    logger.error({ path }, message);
  };
  const exit = new Promise<void>((resolve) => {
    worker.once("exit", (code) => {
      exited = true;
      for (const request of pending.values()) request.reject(new CheckpointerError(`the SQLite checkpointer exited (${code})`));
      pending.clear();
      fallBack(`the SQLite checkpointer exited (${code}); automatic checkpoints are back on`);
      resolve();
    });
  });
  worker.on("message", (message: WorkerReply) => {
    if (message.type === "stopped") onStopped?.();
    else if (message.type === "error") failures.record(message.message, logFailures);
    else {
      const request = pending.get(message.id);
      pending.delete(message.id);
      if (message.outcome) request?.resolve(message.outcome);
      else request?.reject(new CheckpointerError(`SQLite checkpoint failed: ${message.error ?? "no outcome"}`));
    }
  });
  worker.on("error", (error) => fallBack(`the SQLite checkpointer stopped: ${error.message}; automatic checkpoints are back on`));
  connection.pragma("wal_autocheckpoint = 0");
  // A truncation skipped for a busy database is not tried again once the server's next write
  // has started the log over from its beginning (the log is short again, its file is not):
  // the file would keep its largest size. SQLite cuts the file back to this limit when it
  // starts the log over, which bounds it whichever rounds were skipped.
  connection.pragma(`journal_size_limit = ${truncateAbovePages * pageBytes(connection)}`);
  return {
    checkpointNow: () => {
      if (stopping || exited) return Promise.reject(new CheckpointerError("the SQLite checkpointer is stopped"));
      const id = nextId++;
      return new Promise<CheckpointOutcome>((resolve, reject) => {
        pending.set(id, { resolve, reject });
        worker.postMessage({ type: "round", id });
      });
    },
    // Every caller waits for the same stop: a second call returning at once would resolve
    // while the worker still holds its connection.
    stop: () => (stopped ??= stopWorker()),
  };

  async function stopWorker(): Promise<void> {
    stopping = true;
    connection.pragma("wal_autocheckpoint = 1000");
    failures.flush(logFailures);
    // A crashed worker has nothing to say: its exit is the answer.
    if (exited) return;
    const replied = new Promise<void>((resolve) => (onStopped = resolve));
    // Held in the event loop while it stops: with nothing else pending the process would
    // otherwise exit mid-close (an unsettled top-level await).
    worker.ref();
    worker.postMessage({ type: "stop" });
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([replied.then(() => true), exit.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), STOP_GRACE_MS)))]);
    clearTimeout(timer);
    if (!answered) logger.warn({ path }, `the SQLite checkpointer did not stop within ${STOP_GRACE_MS} ms; terminating it`);
    if (!exited) await worker.terminate();
  }
}

/** The database's page size, which a frame of the log holds one of. */
function pageBytes(connection: { pragma(source: string): unknown }): number {
  const [row] = connection.pragma("page_size") as { page_size?: number }[];
  return row?.page_size ?? 4096;
}

const warningLogger: CheckpointerLogger = {
  warn: (details, message) => process.emitWarning(`${message}: ${JSON.stringify(details)}`),
  error: (details, message) => process.emitWarning(`${message}: ${JSON.stringify(details)}`),
};
