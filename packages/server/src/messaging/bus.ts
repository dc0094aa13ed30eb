/**
 * The message bus between the parts of the server: producers publish messages (JSON values)
 * to a topic, consumers read them in batches as members of a consumer group. Each group sees
 * every message published after it was first subscribed (at least once: a batch whose
 * handler throws is delivered again); the members of one group share its messages, so
 * several server processes can split the work of one group.
 *
 * `memory-bus.ts` keeps everything in this process (the default); `redis-bus.ts` uses Redis
 * Streams, so several server processes share one stream.
 */
export interface MessageBus {
  /**
   * Messages must be JSON values and are treated as immutable from here on: the in-memory
   * bus hands the same objects to every group (serialising them to hand them over within one
   * process cost a fifth of the server's time at thousands of events a second); Redis carries
   * them as JSON text.
   */
  publish(topic: string, messages: readonly Message[]): Promise<void>;
  /**
   * Delivers `topic`'s messages to `handler` in batches, in order, one batch at a time per
   * subscriber; the returned function stops it (after the batch in hand, if any).
   */
  subscribe(topic: string, group: string, handler: MessageHandler, options?: SubscribeOptions): Promise<() => Promise<void>>;
  /** Housekeeping the retention service asks for now and then (Redis: trim streams, drop dead groups). */
  trim?(): Promise<void>;
  close(): Promise<void>;
}

/** A message: any JSON value. */
export type Message = unknown;

export type MessageHandler = (messages: Message[]) => Promise<void>;

export interface SubscribeOptions {
  /**
   * A group only this subscriber uses, forgotten when it unsubscribes (each server process's
   * live feed for its websockets). It starts with the messages published from now on.
   */
  ephemeral?: boolean;
  /** Most messages per batch (default 1,000). */
  batchSize?: number;
  /**
   * When fewer than a batch are waiting, wait this long for more before taking them (default
   * 0): for a consumer whose cost is per batch (the persister's INSERT and COMMIT), messages
   * published one at a time (a run's state changes) would otherwise each be a batch. Redis
   * reads take what has arrived and ignore it.
   */
  gatherMs?: number;
}

export const DEFAULT_BATCH_SIZE = 1000;

/** How long a failed batch waits before it is delivered again: 100 ms doubling to 5 s. */
export function retryDelayMs(failures: number): number {
  return Math.min(5000, 100 * 2 ** Math.max(0, failures - 1));
}

export interface BusLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}
