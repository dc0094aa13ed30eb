import { randomUUID } from "node:crypto";
import { RESOURCE_ID_LABEL, type ReceivedEvent } from "@baton/core";
import type { MessageBus, SubscribeOptions } from "../messaging/bus.js";

/** The bus topic events travel on. */
export const EVENTS_TOPIC = "events";

/**
 * The server's stream of events: whatever produces an event (`POST /events`, the `events/in`
 * websocket, state changes of runs, deployments, pools, queues and workers) publishes it
 * here, and consumers read it in consumer groups: the persister ("persister") writes it to
 * the database, each server process's live feed serves the `events/out` websockets, and
 * other services (automations) subscribe with their own group.
 */
export class EventStream {
  readonly #live = new Set<(events: ReceivedEvent[]) => void>();
  #liveSubscription: Promise<() => Promise<void>> | undefined;
  #closed = false;

  constructor(readonly bus: MessageBus) {}

  /** Publishes events that are already valid and have `received` set. */
  async publish(events: readonly ReceivedEvent[]): Promise<void> {
    if (events.length === 0) return;
    const messages = new Array<string>(events.length);
    for (let i = 0; i < events.length; i++) messages[i] = JSON.stringify(events[i]);
    await this.bus.publish(EVENTS_TOPIC, messages);
  }

  /**
   * Reads the stream as a member of `group`, in batches; a batch whose handler throws comes
   * again (at least once). The returned function stops.
   */
  consume(group: string, handler: (events: ReceivedEvent[]) => Promise<void>, options?: SubscribeOptions): Promise<() => Promise<void>> {
    return this.bus.subscribe(EVENTS_TOPIC, group, (messages) => handler(parseMessages(messages)), options);
  }

  /**
   * Every event from now on, as this process sees it, handed to `listener` (synchronously,
   * so a slow listener must buffer on its own). All listeners share one ephemeral group.
   */
  async live(listener: (events: ReceivedEvent[]) => void): Promise<() => void> {
    if (this.#closed) throw new Error("the event stream is closed");
    this.#live.add(listener);
    this.#liveSubscription ??= this.consume(
      `live-${randomUUID().slice(0, 8)}`,
      async (events) => {
        for (const each of this.#live) each(events);
      },
      { ephemeral: true },
    );
    await this.#liveSubscription;
    return () => {
      this.#live.delete(listener);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const live = this.#liveSubscription;
    this.#live.clear();
    if (live) await (await live)();
    await this.bus.close();
  }
}

function parseMessages(messages: string[]): ReceivedEvent[] {
  const events: ReceivedEvent[] = [];
  for (const message of messages) {
    try {
      events.push(JSON.parse(message) as ReceivedEvent);
    } catch {
      // Only this server writes to the stream; a message that is not JSON is nobody's event.
    }
  }
  return events;
}

/** What server-side code says about an event; the rest is filled in by `emitEvents`. */
export interface EmittedEvent {
  event: string;
  resource: Record<string, string>;
  related?: Array<Record<string, string>>;
  payload?: Record<string, unknown>;
  occurred?: string;
  id?: string;
  follows?: string | null;
}

/** Completes server-side events (id, times, defaults) and publishes them. */
export async function emitEvents(stream: EventStream | undefined, events: readonly EmittedEvent[]): Promise<ReceivedEvent[]> {
  if (!stream || events.length === 0) return [];
  const received = new Date().toISOString();
  const complete = events.map((e) => toReceived(e, received));
  await stream.publish(complete);
  return complete;
}

export function toReceived(e: EmittedEvent, received: string): ReceivedEvent {
  if (!e.resource[RESOURCE_ID_LABEL]) throw new Error(`event ${e.event} has no ${RESOURCE_ID_LABEL}`);
  return {
    id: e.id ?? randomUUID(),
    occurred: e.occurred ?? received,
    event: e.event,
    resource: e.resource,
    related: e.related ?? [],
    payload: e.payload ?? {},
    follows: e.follows ?? null,
    received,
  };
}
