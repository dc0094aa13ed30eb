import { sql } from "kysely";
import type { Database } from "../db/database.js";
import { LoopService } from "./service.js";

/** Rows one DELETE removes, so a large backlog never holds the database for long. */
const CHUNK = 10_000;
/** Chunks one pass deletes per table at most; the rest waits for the next pass. */
const MAX_CHUNKS = 100;

/**
 * Keeps events and logs from growing without end: deletes events that occurred more than
 * BATON_SERVER_EVENTS_RETENTION_DAYS ago (default 7) and logs older than
 * BATON_SERVER_LOGS_RETENTION_DAYS (default 0: kept), in chunks; and asks the message bus to
 * trim (Redis: each stream to BATON_MESSAGING_REDIS_STREAM_MAXLEN entries, and the live groups
 * of server processes that are gone are removed).
 */
export class RetentionService extends LoopService {
  readonly name = "retention";
  /** Rows deleted by the last pass, for tests and logs. */
  lastPass = { events: 0, logs: 0 };

  async runOnce(): Promise<void> {
    const { db, clock, config, events, logger } = this.resources;
    const now = clock.now().getTime();
    const pass = { events: 0, logs: 0 };
    if (config.eventsRetentionDays > 0) {
      pass.events = await deleteOlder(db, "event", "occurred", new Date(now - config.eventsRetentionDays * 86_400_000).toISOString());
    }
    if (config.logsRetentionDays > 0) {
      pass.logs = await deleteOlder(db, "log", "timestamp", new Date(now - config.logsRetentionDays * 86_400_000).toISOString());
    }
    await events.bus.trim?.();
    this.lastPass = pass;
    if (pass.events + pass.logs > 0) logger.info(pass, "retention: deleted old events and logs");
  }
}

/** Deletes the rows of `table` whose `column` is before `cutoff`, a chunk per statement (through the column's index). */
async function deleteOlder(db: Database, table: "event" | "log", column: "occurred" | "timestamp", cutoff: string): Promise<number> {
  let deleted = 0;
  for (let i = 0; i < MAX_CHUNKS; i++) {
    const result = await sql`
      DELETE FROM ${sql.table(table)} WHERE id IN (
        SELECT id FROM ${sql.table(table)} WHERE ${sql.ref(column)} < ${cutoff} ORDER BY ${sql.ref(column)} LIMIT ${CHUNK}
      )
    `.execute(db.kysely);
    const n = Number(result.numAffectedRows ?? 0n);
    deleted += n;
    if (n < CHUNK) break;
  }
  return deleted;
}
