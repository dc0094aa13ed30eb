import type { Event, ReceivedEvent } from "@baton/core";
import type { Database } from "../db/database.js";
import { applyHeartbeats } from "../db/queries/events.js";
import type { EventStream } from "./event-stream.js";
import { recordTaskRunEvents } from "./task-run-recorder.js";

/**
 * What happens to events a client sends (`POST /events`, the `events/in` websocket), once
 * valid: task runs reported as events are recorded and heartbeats applied before the answer
 * (a flow's reads after its task runs must see them; liveness must not wait), then the events
 * are published to the stream, which the persister stores in batches.
 */
export async function receiveEvents(db: Database, stream: EventStream, events: readonly Event[]): Promise<ReceivedEvent[]> {
  await recordTaskRunEvents(db, events);
  await applyHeartbeats(db, events);
  const received = new Date().toISOString();
  const complete = events.map((event): ReceivedEvent => ({
    id: event.id,
    occurred: event.occurred,
    event: event.event,
    resource: event.resource,
    related: event.related,
    payload: event.payload,
    follows: event.follows ?? null,
    received,
  }));
  await stream.publish(complete);
  return complete;
}
