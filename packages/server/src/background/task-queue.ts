/**
 * The server's queue of background task runs waiting for a task worker, one per task key, as
 * Prefect's `TaskQueue`: each key has a scheduled queue (runs in the order they were
 * scheduled) and a retry queue (runs a worker was offered but never acknowledged), and the
 * retry queue is served first. A run is in a key's queues at most once, and is delivered only
 * once its `scheduled_time` has come (an AwaitingRetry waits out its retry delay here, not in
 * a worker's slot).
 *
 * The queue is in memory and only a hint: a run is executed by the task worker whose PENDING
 * claim the orchestration accepts, so a run offered twice (a retry queue entry, a restore
 * after a restart) still runs once.
 */
export interface QueuedTaskRun {
  readonly id: string;
  readonly taskKey: string;
  /** Epoch ms before which it is not delivered. */
  readonly dueAt: number;
}

interface KeyQueues {
  /** Insertion-ordered, keyed by run id. */
  scheduled: Map<string, QueuedTaskRun>;
  retry: Map<string, QueuedTaskRun>;
}

interface Waiter {
  keys: ReadonlySet<string>;
  wake(): void;
}

export class TaskQueue {
  readonly #byKey = new Map<string, KeyQueues>();
  readonly #waiters = new Set<Waiter>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Adds (or moves the due time of) a scheduled run. */
  put(entry: QueuedTaskRun): void {
    const queues = this.#queues(entry.taskKey);
    if (queues.retry.has(entry.id)) return;
    queues.scheduled.delete(entry.id);
    queues.scheduled.set(entry.id, entry);
    this.#wake(entry.taskKey);
  }

  /** Puts back a run that was offered but not acknowledged: it goes first. */
  retry(entry: QueuedTaskRun): void {
    const queues = this.#queues(entry.taskKey);
    queues.scheduled.delete(entry.id);
    queues.retry.set(entry.id, entry);
    this.#wake(entry.taskKey);
  }

  /** Drops a run (it was claimed, finished or deleted). */
  remove(taskKey: string, id: string): void {
    const queues = this.#byKey.get(taskKey);
    queues?.scheduled.delete(id);
    queues?.retry.delete(id);
  }

  /** How many runs wait for a key (due or not). */
  size(taskKey: string): number {
    const queues = this.#byKey.get(taskKey);
    return (queues?.scheduled.size ?? 0) + (queues?.retry.size ?? 0);
  }

  /**
   * The next due run of any of `keys`, taken off the queue; waits for one. Resolves
   * `undefined` once `signal` is aborted.
   */
  async take(keys: readonly string[], signal: AbortSignal): Promise<QueuedTaskRun | undefined> {
    const wanted = new Set(keys);
    for (;;) {
      if (signal.aborted) return undefined;
      const now = this.now();
      const due = this.#takeDue(keys, now);
      if (due) return due;
      const earliest = this.#earliestDue(keys);
      await new Promise<void>((resolve) => {
        const waiter: Waiter = { keys: wanted, wake: () => done() };
        const timer = earliest === undefined ? undefined : setTimeout(() => done(), Math.max(earliest - now, 1));
        const done = () => {
          this.#waiters.delete(waiter);
          if (timer) clearTimeout(timer);
          signal.removeEventListener("abort", done);
          resolve();
        };
        this.#waiters.add(waiter);
        signal.addEventListener("abort", done, { once: true });
      });
    }
  }

  #queues(taskKey: string): KeyQueues {
    let queues = this.#byKey.get(taskKey);
    if (!queues) {
      queues = { scheduled: new Map(), retry: new Map() };
      this.#byKey.set(taskKey, queues);
    }
    return queues;
  }

  #takeDue(keys: readonly string[], now: number): QueuedTaskRun | undefined {
    for (const kind of ["retry", "scheduled"] as const) {
      for (const key of keys) {
        const queue = this.#byKey.get(key)?.[kind];
        if (!queue) continue;
        for (const entry of queue.values()) {
          if (entry.dueAt > now) continue;
          queue.delete(entry.id);
          return entry;
        }
      }
    }
    return undefined;
  }

  #earliestDue(keys: readonly string[]): number | undefined {
    let earliest: number | undefined;
    for (const key of keys) {
      const queues = this.#byKey.get(key);
      if (!queues) continue;
      for (const entry of [...queues.retry.values(), ...queues.scheduled.values()]) {
        if (earliest === undefined || entry.dueAt < earliest) earliest = entry.dueAt;
      }
    }
    return earliest;
  }

  #wake(taskKey: string): void {
    for (const waiter of [...this.#waiters]) if (waiter.keys.has(taskKey)) waiter.wake();
  }
}
