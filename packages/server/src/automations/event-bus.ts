import type { ReceivedEvent } from "@baton/core";

/**
 * The event bus as the automations see it: the same shape as `events/event-stream.ts`'s
 * `EventStream` (publish; consume as a named group), so either can be passed.
 */
export interface EventBus {
  publish(events: ReceivedEvent[]): unknown;
  consume(group: string, handler: (events: ReceivedEvent[]) => Promise<void>): Promise<() => Promise<void>>;
}
