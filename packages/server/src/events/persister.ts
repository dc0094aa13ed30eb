import type { ReceivedEvent } from "@baton/core";
import type { Database } from "../db/database.js";
import { insertEvents } from "../db/queries/events.js";
import type { EventStream } from "./event-stream.js";

export const PERSISTER_GROUP = "persister";
/** Events per batch, each batch one INSERT. */
export const PERSISTER_BATCH_SIZE = 2000;

/**
 * The event persister: a member of the "persister" group of the event stream, writing what
 * arrives in batches (one multi-row INSERT each; an event already stored is skipped, so a
 * batch delivered twice stores nothing twice). Batches form by themselves: while one is
 * written, the next accumulates.
 */
export function startEventPersister(db: Database, stream: EventStream): Promise<() => Promise<void>> {
  return stream.consume(PERSISTER_GROUP, (events: ReceivedEvent[]) => insertEvents(db, events), { batchSize: PERSISTER_BATCH_SIZE });
}
