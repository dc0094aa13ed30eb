import { randomUUID } from "node:crypto";
import { RESOURCE_ID_LABEL, type Log, type ReceivedEvent } from "@baton/core";
import type { MessageBus, SubscribeOptions } from "../messaging/bus.js";
import { LiveFeed } from "../messaging/live-feed.js";

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
  readonly #live: LiveFeed<ReceivedEvent>;
  /** Logs as they are written, for `logs/out`. */
  readonly logs: LogStream;
  #closed = false;

  constructor(readonly bus: MessageBus) {
    this.#live = new LiveFeed<ReceivedEvent>(bus, EVENTS_TOPIC);
    this.logs = new LogStream(bus);
  }

  /** Publishes events that are already valid and have `received` set. */
  async publish(events: readonly ReceivedEvent[]): Promise<void> {
    if (events.length > 0) await this.bus.publish(EVENTS_TOPIC, events);
  }

  /**
   * Reads the stream as a member of `group`, in batches; a batch whose handler throws comes
   * again (at least once). The returned function stops.
   */
  consume(group: string, handler: (events: ReceivedEvent[]) => Promise<void>, options?: SubscribeOptions): Promise<() => Promise<void>> {
    return this.bus.subscribe(EVENTS_TOPIC, group, (messages) => handler(messages as ReceivedEvent[]), options);
  }

  /**
   * Every event from now on, as this process sees it, handed to `listener` (synchronously,
   * so a slow listener must buffer on its own). All listeners share one ephemeral group.
   */
  live(listener: (events: ReceivedEvent[]) => void): Promise<() => void> {
    return this.#live.listen(listener);
  }

  /** Stops the live feeds and closes the bus (consumers should have stopped first). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#live.close();
    await this.logs.close();
    await this.bus.close();
  }
}

/** The bus topic logs travel on, once written, for `logs/out`. */
export const LOGS_TOPIC = "logs";

/** Logs as they are written, for the `logs/out` websockets of every server process. */
export class LogStream {
  readonly #live: LiveFeed<Log>;

  constructor(private readonly bus: MessageBus) {
    this.#live = new LiveFeed<Log>(bus, LOGS_TOPIC);
  }

  async publish(logs: readonly Log[]): Promise<void> {
    if (logs.length === 0) return;
    await this.bus.publish(LOGS_TOPIC, logs);
  }

  live(listener: (logs: Log[]) => void): Promise<() => void> {
    return this.#live.listen(listener);
  }

  close(): Promise<void> {
    return this.#live.close();
  }
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
