import { DEFAULT_BATCH_SIZE, retryDelayMs, type BusLogger, type Message, type MessageBus, type MessageHandler, type SubscribeOptions } from "./bus.js";

/** A group's messages not yet taken, and the members taking them. */
interface Group {
  queue: Message[];
  /** Index of the next message to take (the queue is compacted when it passes half). */
  head: number;
  members: Set<Member>;
  ephemeral: boolean;
}

interface Member {
  wake(): void;
}

/**
 * Publishing waits while a group has this many messages waiting, so a consumer that falls
 * behind slows its producers rather than filling memory.
 */
const HIGH_WATER = 200_000;

/**
 * The in-process bus: each group is a queue in memory, drained by its members one batch at a
 * time. Messages are passed as they are (the same object to every group, never copied) and
 * live only as long as the process.
 */
export class MemoryBus implements MessageBus {
  readonly #topics = new Map<string, Map<string, Group>>();
  readonly #drained = new Set<() => void>();
  #closed = false;

  constructor(private readonly logger?: BusLogger) {}

  async publish(topic: string, messages: readonly Message[]): Promise<void> {
    if (this.#closed) throw new Error("the message bus is closed");
    if (messages.length === 0) return;
    const groups = this.#topics.get(topic);
    if (!groups) return;
    while (this.#backlog(groups) >= HIGH_WATER) {
      await new Promise<void>((resolve) => this.#drained.add(resolve));
      if (this.#closed) return;
    }
    for (const group of groups.values()) {
      for (const message of messages) group.queue.push(message);
      if (group.members.size === 0) this.#cap(topic, group);
      for (const member of group.members) member.wake();
    }
  }

  async subscribe(topic: string, groupName: string, handler: MessageHandler, options: SubscribeOptions = {}): Promise<() => Promise<void>> {
    if (this.#closed) throw new Error("the message bus is closed");
    let groups = this.#topics.get(topic);
    if (!groups) this.#topics.set(topic, (groups = new Map()));
    let group = groups.get(groupName);
    if (!group) groups.set(groupName, (group = { queue: [], head: 0, members: new Set(), ephemeral: options.ephemeral ?? false }));
    const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
    const gatherMs = options.gatherMs ?? 0;
    let stopped = false;
    let wake: (() => void) | undefined;
    const member: Member = { wake: () => wake?.() };
    group.members.add(member);
    const g = group;
    const loop = (async () => {
      let failures = 0;
      // The last member of a lasting group delivers what is queued before it stops: in memory,
      // what is left behind would be lost with the process.
      const draining = () => stopped && !g.ephemeral && g.members.size === 1 && g.head < g.queue.length && failures < 3 && !this.#closed;
      while (!stopped || draining()) {
        if (g.head >= g.queue.length) {
          if (stopped) break;
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
          continue;
        }
        if (gatherMs > 0 && !stopped && g.queue.length - g.head < batchSize) await new Promise((resolve) => setTimeout(resolve, gatherMs));
        const batch = g.queue.slice(g.head, g.head + batchSize);
        g.head += batch.length;
        this.#compact(g);
        try {
          await handler(batch);
          failures = 0;
        } catch (error) {
          // Back to the front of the group's queue, for this member or another one.
          g.queue.splice(g.head, 0, ...batch);
          failures++;
          this.logger?.error({ err: error, topic, group: groupName }, "message handler failed; the batch will be delivered again");
          await new Promise((resolve) => setTimeout(resolve, retryDelayMs(failures)));
        }
      }
    })();
    return async () => {
      stopped = true;
      wake?.();
      await loop;
      g.members.delete(member);
      if (g.members.size === 0 && g.ephemeral) {
        groups.delete(groupName);
        this.#compact(g);
      }
      this.#notifyDrained();
    };
  }

  async close(): Promise<void> {
    this.#closed = true;
    for (const groups of this.#topics.values()) for (const group of groups.values()) for (const member of group.members) member.wake();
    this.#notifyDrained();
  }

  /** The longest queue of a group someone is draining (one nobody drains must not stop publishing). */
  #backlog(groups: Map<string, Group>): number {
    let most = 0;
    for (const group of groups.values()) if (group.members.size > 0) most = Math.max(most, group.queue.length - group.head);
    return most;
  }

  /** A group with no members keeps at most HIGH_WATER messages, the newest, as a trimmed stream would. */
  #cap(topic: string, group: Group): void {
    const excess = group.queue.length - group.head - HIGH_WATER;
    if (excess <= 0) return;
    group.head += excess;
    this.#compact(group);
    this.logger?.warn({ topic, dropped: excess }, "a consumer group with no members fell behind; its oldest messages were dropped");
  }

  #compact(group: Group): void {
    if (group.head > 0 && group.head * 2 >= group.queue.length) {
      group.queue.splice(0, group.head);
      group.head = 0;
    }
    if (group.queue.length - group.head < HIGH_WATER) this.#notifyDrained();
  }

  #notifyDrained(): void {
    if (this.#drained.size === 0) return;
    const waiting = [...this.#drained];
    this.#drained.clear();
    for (const resolve of waiting) resolve();
  }
}
