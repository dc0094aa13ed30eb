import type { ReceivedEvent } from "@baton/core";
import { sql } from "kysely";
import type { Database } from "../db/database.js";
import { insertEvents } from "../db/queries/events.js";
import type { EventStream } from "./event-stream.js";

export const PERSISTER_GROUP = "persister";
/** Events per batch, each batch one INSERT. */
export const PERSISTER_BATCH_SIZE = 2000;
/**
 * How long a batch smaller than that waits for more: runs' state changes publish their
 * events one at a time, and stored one per INSERT and COMMIT they cost the server about a
 * tenth of its time under 1,000 concurrent runs.
 */
const PERSISTER_GATHER_MS = 10;

/**
 * The event persister: a member of the "persister" group of the event stream, writing what
 * arrives in batches (one multi-row INSERT each; an event already stored is skipped, so a
 * batch delivered twice stores nothing twice). Batches form by themselves: while one is
 * written, the next accumulates.
 */
export function startEventPersister(db: Database, stream: EventStream, log?: (error: unknown, message: string) => void): Promise<() => Promise<void>> {
  return stream.consume(PERSISTER_GROUP, (events) => persist(db, events, log), { batchSize: PERSISTER_BATCH_SIZE, gatherMs: PERSISTER_GATHER_MS });
}

/**
 * One INSERT for the batch; if the database refuses it, the batch is split in halves down to
 * single events, so one event the database cannot store is dropped (and logged) instead of
 * blocking the stream behind it forever. A database that is down fails every half: the error
 * is thrown and the whole batch comes again later.
 */
async function persist(db: Database, events: ReceivedEvent[], log?: (error: unknown, message: string) => void): Promise<void> {
  try {
    await insertEvents(db, events);
  } catch (error) {
    if (events.length === 1) {
      if (await reachable(db)) return log?.(error, `event ${events[0]!.id} (${events[0]!.event}) could not be stored`);
      throw error;
    }
    const half = Math.ceil(events.length / 2);
    await persist(db, events.slice(0, half), log);
    await persist(db, events.slice(half), log);
  }
}

async function reachable(db: Database): Promise<boolean> {
  try {
    await sql`SELECT 1`.execute(db.kysely);
    return true;
  } catch {
    return false;
  }
}
