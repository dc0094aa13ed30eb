import type { State, TaskRun } from "@baton/core";

/** How the task engine keeps a future up to date. */
export interface FutureObserver {
  created(taskRun: TaskRun): void;
  state(state: State): void;
}

/**
 * A task run started with `task.submit()` or `task.map()`. It runs concurrently with the code
 * that submitted it; the flow run waits for every submitted task before it finishes.
 *
 * @example
 * const future = double.submit(21);
 * await future.wait();            // never throws
 * future.state?.type;             // "COMPLETED"
 * const value = await future.result(); // 42, or throws TaskRunFailedError
 */
export class TaskRunFuture<R> {
  #taskRunId: string;
  #state: State | undefined;
  #done = false;
  readonly #outcome: Promise<R>;
  /** Settles (never rejects) once the run has finished: `wait()`, and what the submitting run waits for. */
  readonly #settled: Promise<void>;

  /** @internal Made by the task engine; use `task.submit()`. */
  constructor(taskRunId: string, start: (observer: FutureObserver) => Promise<R>) {
    this.#taskRunId = taskRunId;
    this.#outcome = start({
      created: (taskRun) => {
        this.#taskRunId = taskRun.id;
        if (taskRun.state) this.#state = taskRun.state;
      },
      state: (state) => {
        this.#state = state;
      },
    });
    const finished = () => {
      this.#done = true;
    };
    this.#settled = this.#outcome.then(finished, finished);
  }

  /**
   * The task run's id. Known at once (the SDK picks it); if the server already had a run for
   * this task call (a flow run retry), it becomes that run's id once the run is created.
   */
  get taskRunId(): string {
    return this.#taskRunId;
  }

  /** The run's latest known state (`undefined` before the server has created it). */
  get state(): State | undefined {
    return this.#state;
  }

  /** True once the run has finished, whatever its final state. */
  get done(): boolean {
    return this.#done;
  }

  /** The task's return value; rejects with `TaskRunFailedError` (or another SDK error) if it failed. */
  result(): Promise<R> {
    return this.#outcome;
  }

  /** Resolves when the run has finished, whatever its final state; see `state`. */
  wait(): Promise<void> {
    return this.#settled;
  }
}

export function isTaskRunFuture(value: unknown): value is TaskRunFuture<unknown> {
  return value instanceof TaskRunFuture;
}

/**
 * Replaces every future in a value (at the top, or inside arrays and plain objects) by its
 * result, as Prefect resolves futures passed to tasks and returned from flows.
 */
export async function resolveFutures(value: unknown, seen: Set<object> = new Set()): Promise<unknown> {
  if (isTaskRunFuture(value)) return value.result();
  if (value === null || typeof value !== "object" || seen.has(value) || !containsFuture(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) return Promise.all(value.map((v) => resolveFutures(v, seen)));
  if (isPlainObject(value)) {
    const entries = await Promise.all(Object.entries(value).map(async ([k, v]) => [k, await resolveFutures(v, seen)] as const));
    return Object.fromEntries(entries);
  }
  return value;
}

/** Every future in a value, in the order `resolveFutures` visits them. */
export function collectFutures(
  value: unknown,
  into: Array<TaskRunFuture<unknown>> = [],
  seen: Set<object> = new Set(),
): Array<TaskRunFuture<unknown>> {
  if (isTaskRunFuture(value)) {
    into.push(value);
    return into;
  }
  if (value === null || typeof value !== "object" || seen.has(value)) return into;
  seen.add(value);
  if (Array.isArray(value)) for (const v of value) collectFutures(v, into, seen);
  else if (isPlainObject(value)) for (const v of Object.values(value)) collectFutures(v, into, seen);
  return into;
}

function containsFuture(value: unknown): boolean {
  return collectFutures(value).length > 0;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}
