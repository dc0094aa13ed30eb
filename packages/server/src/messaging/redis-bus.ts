import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { DEFAULT_BATCH_SIZE, retryDelayMs, type BusLogger, type Message, type MessageBus, type MessageHandler, type SubscribeOptions } from "./bus.js";

export interface RedisBusOptions {
  url: string;
  /** Prefix of every stream key, so several installations (or test files) share one Redis. */
  prefix: string;
  /** Each stream is trimmed to about this many entries on every XADD (`MAXLEN ~`). */
  maxLength: number;
  logger?: BusLogger | undefined;
}

/** Messages per stream entry: a publish of many messages is a few XADDs, not one per message. */
const MESSAGES_PER_ENTRY = 500;
/** A blocking read waits this long for new entries before looking again (and at `stop`). */
const BLOCK_MS = 1000;
/** Entries delivered to a consumer and not acknowledged this long (its process died) go to another member. */
const CLAIM_IDLE_MS = 60_000;
const CLAIM_EVERY_MS = 30_000;
const FIELD = "m";
/** An ephemeral group none of whose consumers read for this long belonged to a process that is gone. */
const STALE_GROUP_IDLE_MS = 3_600_000;

type StreamEntry = [id: string, fields: string[]];

/**
 * Redis Streams: a topic is the stream `<prefix><topic>`, each entry holding up to
 * MESSAGES_PER_ENTRY messages (one `m` field each). A group is a Redis consumer group
 * (XREADGROUP, XACK once the handler returned); members of a group in several processes share
 * its entries; entries a dead member held are claimed by the others after CLAIM_IDLE_MS.
 * Streams are trimmed as they are written (`XADD MAXLEN ~`), so they never grow without
 * bound: a group that falls further behind than that loses the oldest entries.
 */
export class RedisBus implements MessageBus {
  readonly #redis: Redis;
  readonly #consumerBase = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  readonly #subscriptions = new Set<() => Promise<void>>();
  #closed = false;

  private constructor(private readonly options: RedisBusOptions) {
    this.#redis = new Redis(options.url, { enableAutoPipelining: true, maxRetriesPerRequest: 20, lazyConnect: true });
    this.#redis.on("error", (error: Error) => options.logger?.warn({ err: error }, "redis connection error"));
  }

  /** Connects (a wrong URL or a Redis that is down fails here, at start). */
  static async connect(options: RedisBusOptions): Promise<RedisBus> {
    const bus = new RedisBus(options);
    try {
      await bus.#redis.connect();
      await bus.#redis.ping();
    } catch (error) {
      bus.#redis.disconnect();
      throw new Error(`Cannot reach Redis at ${options.url} (BATON_MESSAGING_REDIS_URL): ${(error as Error).message}`);
    }
    return bus;
  }

  key(topic: string): string {
    return `${this.options.prefix}${topic}`;
  }

  async publish(topic: string, messages: readonly Message[]): Promise<void> {
    if (this.#closed) throw new Error("the message bus is closed");
    const key = this.key(topic);
    const writes: Array<Promise<unknown>> = [];
    for (let i = 0; i < messages.length; i += MESSAGES_PER_ENTRY) {
      const fields: string[] = [];
      for (const message of messages.slice(i, i + MESSAGES_PER_ENTRY)) fields.push(FIELD, JSON.stringify(message));
      writes.push(this.#redis.xadd(key, "MAXLEN", "~", this.options.maxLength, "*", ...fields));
    }
    await Promise.all(writes);
  }

  async subscribe(topic: string, group: string, handler: MessageHandler, options: SubscribeOptions = {}): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error("the message bus is closed");
    const key = this.key(topic);
    const ephemeral = options.ephemeral ?? false;
    const groupName = ephemeral ? `${group}:${this.#consumerBase}:${randomUUID().slice(0, 8)}` : group;
    const consumer = `${this.#consumerBase}-${randomUUID().slice(0, 8)}`;
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    try {
      // "$": a group sees what is published from its creation on.
      await this.#redis.xgroup("CREATE", key, groupName, "$", "MKSTREAM");
    } catch (error) {
      if (!String((error as Error).message).includes("BUSYGROUP")) throw error;
    }
    const reader = this.#redis.duplicate();
    reader.on("error", (error: Error) => this.options.logger?.warn({ err: error }, "redis connection error"));
    let stopped = false;
    let reading = false;

    const read = async (id: string): Promise<StreamEntry[]> => {
      reading = true;
      try {
        const args: Array<string | number> = ["GROUP", groupName, consumer, "COUNT", Math.max(1, Math.ceil(batchSize / MESSAGES_PER_ENTRY) * 2)];
        if (id === ">") args.push("BLOCK", BLOCK_MS);
        args.push("STREAMS", key, id);
        const reply = (await reader.call("XREADGROUP", ...args)) as Array<[string, StreamEntry[]]> | null;
        return reply?.[0]?.[1] ?? [];
      } finally {
        reading = false;
      }
    };

    const loop = (async () => {
      let failures = 0;
      let ownPendingFirst = true;
      let lastClaim = Date.now();
      while (!stopped) {
        try {
          let entries: StreamEntry[];
          if (ownPendingFirst) {
            // What this consumer was given and did not acknowledge (a failed handler).
            entries = await read("0");
            if (entries.length === 0) ownPendingFirst = false;
          } else if (!ephemeral && Date.now() - lastClaim > CLAIM_EVERY_MS) {
            lastClaim = Date.now();
            const claimed = (await this.#redis.call("XAUTOCLAIM", key, groupName, consumer, CLAIM_IDLE_MS, "0-0", "COUNT", 100)) as [string, StreamEntry[]];
            entries = claimed[1].filter((entry): entry is StreamEntry => Array.isArray(entry) && Array.isArray(entry[1]));
          } else {
            entries = await read(">");
          }
          if (entries.length === 0) continue;
          const messages: Message[] = [];
          for (const [, fields] of entries) for (let i = 1; i < fields.length; i += 2) pushParsed(messages, fields[i]!);
          try {
            if (messages.length > 0) await handler(messages);
          } catch (error) {
            failures++;
            ownPendingFirst = true;
            this.options.logger?.error({ err: error, topic, group }, "message handler failed; the batch will be delivered again");
            await sleep(retryDelayMs(failures));
            continue;
          }
          failures = 0;
          await this.#redis.xack(key, groupName, ...entries.map(([id]) => id));
        } catch (error) {
          if (stopped) break;
          failures++;
          ownPendingFirst = true;
          this.options.logger?.warn({ err: error, topic, group }, "reading from redis failed; trying again");
          await sleep(retryDelayMs(failures));
        }
      }
    })();

    let stopping: Promise<void> | undefined;
    const unsubscribe = () =>
      (stopping ??= (async () => {
        stopped = true;
        // A blocked read ends at once; what it was about to deliver stays pending and is claimed later.
        if (reading) reader.disconnect();
        await loop;
        reader.disconnect();
        this.#subscriptions.delete(unsubscribe);
        if (ephemeral) await this.#redis.xgroup("DESTROY", key, groupName).catch(() => undefined);
      })());
    this.#subscriptions.add(unsubscribe);
    return unsubscribe;
  }

  /**
   * Trims every stream under the prefix to about `maxLength` entries (XADD trims only the
   * stream written to) and destroys ephemeral groups whose consumers have all been idle for
   * an hour (a server process that died without unsubscribing).
   */
  async trim(): Promise<void> {
    const keys: string[] = [];
    let cursor = "0";
    do {
      const [next, found] = (await this.#redis.call("SCAN", cursor, "MATCH", `${this.options.prefix}*`, "COUNT", 1000, "TYPE", "stream")) as [string, string[]];
      cursor = next;
      keys.push(...found);
    } while (cursor !== "0");
    for (const key of keys) {
      await this.#redis.xtrim(key, "MAXLEN", "~", this.options.maxLength);
      const groups = (await this.#redis.call("XINFO", "GROUPS", key)) as unknown[][];
      for (const info of groups) {
        const group = String(fieldOf(info, "name"));
        if (!group.startsWith("live-")) continue;
        const consumers = (await this.#redis.call("XINFO", "CONSUMERS", key, group)) as unknown[][];
        const idle = consumers.every((c) => Number(fieldOf(c, "idle")) > STALE_GROUP_IDLE_MS);
        if (idle) await this.#redis.xgroup("DESTROY", key, group);
      }
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    await Promise.all([...this.#subscriptions].map((unsubscribe) => unsubscribe()));
    this.#closed = true;
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  /** The underlying command connection (the trim and cleanup of streams by the retention service). */
  get redis(): Redis {
    return this.#redis;
  }
}

/** A field of an XINFO reply (a flat list of names and values). */
function fieldOf(info: unknown[], name: string): unknown {
  const index = info.indexOf(name);
  return index === -1 ? undefined : info[index + 1];
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A stream entry's message, parsed; one that is not JSON (not written by a Baton server) is skipped. */
function pushParsed(messages: Message[], text: string): void {
  try {
    messages.push(JSON.parse(text));
  } catch {
    // not ours
  }
}
