import { createRequire } from "node:module";
import { Worker } from "node:worker_threads";

/** How often the checkpointer copies the write-ahead log into the database file. */
const CHECKPOINT_EVERY_MS = 250;
/**
 * A log this many pages long (4 KiB each: 256 MiB) is truncated even if writers must wait
 * for it: under a write load that never pauses, passive checkpoints alone could let it grow.
 */
const TRUNCATE_ABOVE_PAGES = 65_536;

/**
 * The checkpointer's code, run in a worker thread with its own connection. A passive
 * checkpoint never blocks the server's writers; it copies what is committed and fsyncs the
 * files, which is what made SQLite's automatic checkpoints (run inside whichever COMMIT
 * crossed 1,000 pages) stall the server's event loop for milliseconds at a time.
 */
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const Database = require(workerData.driver);
const db = new Database(workerData.path);
db.pragma("busy_timeout = 5000");
const timer = setInterval(() => {
  try {
    const [result] = db.pragma("wal_checkpoint(PASSIVE)");
    if (result && result.log > workerData.truncateAbovePages) db.pragma("wal_checkpoint(TRUNCATE)");
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message || error) });
  }
}, workerData.everyMs);
parentPort.on("message", (message) => {
  if (message !== "stop") return;
  clearInterval(timer);
  try { db.pragma("wal_checkpoint(PASSIVE)"); } catch {}
  db.close();
  parentPort.postMessage({ stopped: true });
});
`;

export interface Checkpointer {
  stop(): Promise<void>;
}

/**
 * Moves the write-ahead log's checkpoints of the database file at `path` off this thread:
 * turns off automatic checkpoints on `connection` and runs them in a worker thread instead.
 * If the worker fails, automatic checkpoints come back on, so the log is never left to grow.
 */
export function startCheckpointer(
  path: string,
  connection: { pragma(source: string): unknown },
  onError?: (message: string) => void,
): Checkpointer {
  const driver = createRequire(import.meta.url).resolve("better-sqlite3");
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { path, driver, everyMs: CHECKPOINT_EVERY_MS, truncateAbovePages: TRUNCATE_ABOVE_PAGES },
  });
  worker.unref();
  let stopping = false;
  const fallBack = (message: string): void => {
    if (stopping) return;
    connection.pragma("wal_autocheckpoint = 1000");
    onError?.(message);
  };
  worker.on("message", (message: { error?: string }) => {
    if (message.error) onError?.(`SQLite checkpoint failed: ${message.error}`);
  });
  worker.on("error", (error) => fallBack(`the SQLite checkpointer stopped: ${error.message}; automatic checkpoints are back on`));
  worker.on("exit", (code) => fallBack(`the SQLite checkpointer exited (${code}); automatic checkpoints are back on`));
  connection.pragma("wal_autocheckpoint = 0");
  return {
    stop: async () => {
      if (stopping) return;
      stopping = true;
      connection.pragma("wal_autocheckpoint = 1000");
      const stopped = new Promise<void>((resolve) => {
        worker.once("message", () => resolve());
        worker.once("exit", () => resolve());
      });
      // Held in the event loop while it stops: with nothing else pending the process would
      // otherwise exit mid-close (an unsettled top-level await).
      worker.ref();
      worker.postMessage("stop");
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([stopped, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
      await worker.terminate();
    },
  };
}
