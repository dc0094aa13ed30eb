import type { Log, LogCreate } from "@baton/core";
import type { Database } from "../db/database.js";
import { insertLogs } from "../db/queries/logs.js";
import type { LogStream } from "../events/event-stream.js";

/** Most log lines one INSERT takes. */
const MAX_BATCH = 5000;

interface Pending {
  logs: ReadonlyArray<LogCreate & { timestamp: string }>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/**
 * Writes logs in batches, apart from orchestration: the logs of every `POST /logs/` that
 * arrives while a batch is being written wait together and go in the next INSERT (one at a
 * time), so a flood of small requests becomes a few large statements instead of holding the
 * database (on SQLite, the one writer `set_state` needs) once per request. A request is
 * answered once its logs are stored, so reading them right after sees them. Stored logs are
 * then published for the `logs/out` websockets.
 */
export class LogWriter {
  readonly #pending: Pending[] = [];
  #flushing: Promise<void> | undefined;

  constructor(
    private readonly db: Database,
    private readonly stream: LogStream,
    private readonly onPublishError: (error: unknown) => void = () => undefined,
  ) {}

  write(logs: ReadonlyArray<LogCreate & { timestamp: string }>): Promise<void> {
    if (logs.length === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.#pending.push({ logs, resolve, reject });
      this.#flushing ??= this.#drain();
    });
  }

  /** Resolves once everything written so far is stored. */
  async flushed(): Promise<void> {
    while (this.#flushing) await this.#flushing;
  }

  async #drain(): Promise<void> {
    // Let the requests of this tick join the first batch.
    await new Promise((resolve) => setImmediate(resolve));
    try {
      while (this.#pending.length > 0) {
        const batch: Pending[] = [];
        let rows = 0;
        while (this.#pending.length > 0 && (batch.length === 0 || rows + this.#pending[0]!.logs.length <= MAX_BATCH)) {
          const next = this.#pending.shift()!;
          batch.push(next);
          rows += next.logs.length;
        }
        let stored: Log[];
        try {
          stored = await insertLogs(this.db, batch.flatMap((p) => p.logs));
        } catch (error) {
          for (const p of batch) p.reject(error);
          continue;
        }
        for (const p of batch) p.resolve();
        await this.stream.publish(stored).catch(this.onPublishError);
      }
    } finally {
      this.#flushing = undefined;
    }
  }
}
