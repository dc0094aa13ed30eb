import { setTimeout as sleep } from "node:timers/promises";

/**
 * Contenders in one process for the same limits take turns here before asking the server:
 * only the head of the local queue sends acquire requests, and when it is granted the next
 * one asks at once. Without this, N callers in one process (a `serve()` running 1,000 flow
 * runs) all poll the server, which spends its time answering 423s to them while the
 * requests that could be granted wait behind those refusals. A slot given back by this
 * process wakes the head at once instead of leaving it to sleep out a Retry-After.
 *
 * The server still decides every grant: the gate only orders this process's requests, so
 * several processes sharing a limit behave as before, one head each.
 */
export class SlotGate {
  private readonly queue: Turn[] = [];
  /** Bumped by every local release: the head retries at once if one happened while it was asking. */
  private releases = 0;
  private wake: (() => void) | undefined;

  /**
   * Waits for this caller's turn, then calls `attempt` until it returns a grant. `attempt`
   * returns `{ retryAfterMs }` for a refusal; a thrown error ends this caller's turn. Gives
   * up (throwing `timedOut()`) at `deadline` (epoch ms).
   */
  async acquire<T>(attempt: () => Promise<Attempt<T>>, deadline: number, timedOut: () => Error): Promise<T> {
    const turn = new Turn();
    this.queue.push(turn);
    if (this.queue.length === 1) turn.open();
    try {
      if (!(await turn.reached(deadline))) throw timedOut();
      for (;;) {
        const seen = this.releases;
        const outcome = await attempt();
        if ("granted" in outcome) return outcome.granted;
        // A release while the request was in flight may have freed what it was refused.
        if (this.releases !== seen) continue;
        const left = deadline - Date.now();
        if (left <= 0) throw timedOut();
        // The last try is at the deadline rather than giving up early.
        await this.pause(Math.min(outcome.retryAfterMs, left));
      }
    } finally {
      this.leave(turn);
    }
  }

  /** A slot taken through this gate was given back: the head may try now. */
  released(): void {
    this.releases += 1;
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }

  get waiting(): number {
    return this.queue.length;
  }

  private async pause(ms: number): Promise<void> {
    const abort = new AbortController();
    const woken = new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    try {
      await Promise.race([sleep(ms, undefined, { signal: abort.signal, ref: true }).catch(() => undefined), woken]);
    } finally {
      abort.abort();
      this.wake = undefined;
    }
  }

  private leave(turn: Turn): void {
    const index = this.queue.indexOf(turn);
    if (index < 0) return;
    this.queue.splice(index, 1);
    if (index === 0) this.queue[0]?.open();
  }
}

/** What one request to the server gave: the slots, or when to ask again. */
export type Attempt<T> = { granted: T } | { retryAfterMs: number };

/** One caller's place in the queue: opened when it reaches the head. */
class Turn {
  private opened = false;
  private resolve: (() => void) | undefined;
  private readonly promise = new Promise<void>((resolve) => {
    this.resolve = resolve;
  });

  open(): void {
    this.opened = true;
    this.resolve?.();
  }

  /** True once this turn is at the head, false if `deadline` passed first. */
  async reached(deadline: number): Promise<boolean> {
    if (this.opened) return true;
    if (deadline === Number.POSITIVE_INFINITY) {
      await this.promise;
      return true;
    }
    const abort = new AbortController();
    try {
      const left = Math.max(0, deadline - Date.now());
      const timer = sleep(left, false, { signal: abort.signal }).catch(() => false);
      return await Promise.race([this.promise.then(() => true), timer]);
    } finally {
      abort.abort();
    }
  }
}

const gates = new Map<string, SlotGate>();

/** Which gate: these limits (in any order), taken this way, on this server. */
export function gateKey(apiUrl: string, mode: string, names: readonly string[]): string {
  return `${apiUrl}\u0000${mode}\u0000${[...new Set(names)].sort().join("\u0000")}`;
}

/** Runs `fn` at the gate for `key`, dropping the gate once nobody waits at it. */
export async function throughGate<T>(key: string, fn: (gate: SlotGate) => Promise<T>): Promise<T> {
  let gate = gates.get(key);
  if (!gate) {
    gate = new SlotGate();
    gates.set(key, gate);
  }
  try {
    return await fn(gate);
  } finally {
    if (gate.waiting === 0 && gates.get(key) === gate) gates.delete(key);
  }
}

/** Slots taken at the gate for `key` were given back: wakes whoever waits there now. */
export function releasedAt(key: string): void {
  gates.get(key)?.released();
}
