import type { ReceivedEvent } from "@baton/core";
import type { EventBus } from "./event-bus.js";

/**
 * SEAM until the event stream (`events/event-stream.ts`) is merged: an in-process bus with
 * the same API, fed by `POST /events` after the events are stored. Each consumer group gets
 * every batch, in order, one batch at a time, after `publish` has returned (so a publisher
 * never waits on, or deadlocks with, a consumer).
 */
export class LocalEventBus implements EventBus {
  private readonly groups = new Map<string, { handlers: Array<(events: ReceivedEvent[]) => Promise<void>>; next: number; tail: Promise<void> }>();

  publish(events: ReceivedEvent[]): void {
    if (events.length === 0) return;
    for (const group of this.groups.values()) {
      if (group.handlers.length === 0) continue;
      const handler = group.handlers[group.next++ % group.handlers.length]!;
      group.tail = group.tail.then(() => new Promise<void>((resolve) => setImmediate(resolve))).then(() => handler(events).catch(() => undefined));
    }
  }

  consume(group: string, handler: (events: ReceivedEvent[]) => Promise<void>): Promise<() => Promise<void>> {
    const entry = this.groups.get(group) ?? { handlers: [], next: 0, tail: Promise.resolve() };
    entry.handlers.push(handler);
    this.groups.set(group, entry);
    return Promise.resolve(async () => {
      entry.handlers = entry.handlers.filter((h) => h !== handler);
      await entry.tail;
    });
  }
}
