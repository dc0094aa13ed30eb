import { randomUUID } from "node:crypto";
import type { MessageBus } from "./bus.js";

/**
 * A topic's messages as this process sees them live, for its websockets: one ephemeral group
 * per process (so with Redis every process sees every message, whichever process published
 * it), started with the first listener, fanned out to all listeners synchronously (a slow
 * listener buffers on its own).
 */
export class LiveFeed<T> {
  readonly #listeners = new Set<(items: T[]) => void>();
  #subscription: Promise<() => Promise<void>> | undefined;
  #closed = false;

  constructor(
    private readonly bus: MessageBus,
    private readonly topic: string,
  ) {}

  async listen(listener: (items: T[]) => void): Promise<() => void> {
    if (this.#closed) throw new Error(`the ${this.topic} feed is closed`);
    this.#listeners.add(listener);
    this.#subscription ??= this.bus.subscribe(
      this.topic,
      `live-${randomUUID().slice(0, 8)}`,
      async (messages) => {
        if (this.#listeners.size === 0) return;
        // Only this server publishes to its topics, so a topic's messages are its T.
        const items = messages as T[];
        for (const each of this.#listeners) each(items);
      },
      { ephemeral: true },
    );
    try {
      await this.#subscription;
    } catch (error) {
      this.#listeners.delete(listener);
      this.#subscription = undefined;
      throw error;
    }
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    const subscription = this.#subscription;
    if (subscription) await (await subscription)();
  }
}
