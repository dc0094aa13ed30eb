import { InvalidInputError, newId, type State, type TaskRun } from "@baton/core";
import type { CacheKeyContext } from "./cache/keys.js";
import type { CachePolicy } from "./cache/policies.js";
import type { Serializer } from "./results/serializers.js";
import type { ResultStorage } from "./results/storage.js";
import type { TransactionHook } from "./transactions.js";
import { taskKeyFor } from "./cache/keys.js";
import { currentStore } from "./context.js";
import { InvalidOptionError } from "./errors.js";
import { runTask, type TaskDefinition } from "./engine/task-engine.js";
import { validateTaskOptions } from "./engine/wire.js";
import { TaskRunFuture } from "./futures.js";
import { applyAsync, type ApplyAsyncOptions, type BackgroundTaskFuture } from "./background/delay.js";

/** What a task's `onCompletion` / `onFailure` hook receives. */
export interface TaskHookContext {
  taskName: string;
  /** The run, with its final state. */
  taskRun: TaskRun;
  state: State;
  /** The return value (onCompletion). */
  result: unknown;
  /** What failed the run (onFailure): the function's error, or a `TimeoutError`. */
  error: unknown;
}
export type TaskHook = (context: TaskHookContext) => void | Promise<void>;

export interface TaskOptions<A extends unknown[] = unknown[]> {
  /** Defaults to the function's name. */
  name?: string;
  description?: string;
  /** Recorded as the run's `task_version`. */
  version?: string;
  /** How many times a failed run is tried again (default 0). */
  retries?: number;
  /** Delay before each retry; a list gives one delay per retry (the last one repeats). */
  retryDelaySeconds?: number | number[];
  /** Randomises each delay by up to this factor of it (e.g. 0.5 gives delay .. 1.5 x delay). */
  retryJitterFactor?: number;
  /** Each attempt fails as "TimedOut" after this many seconds. */
  timeoutSeconds?: number;
  tags?: string[];
  /**
   * A cache key for a call: a later call with the same key, while the cached result is valid,
   * finishes at once as COMPLETED "Cached" with the earlier result (the function does not run).
   * Return `null` / `undefined` for no caching. See `taskInputHash`. Implies `persistResult`:
   * the cached result is the record stored at that key.
   */
  cacheKeyFn?: (context: CacheKeyContext<A>) => string | null | undefined;
  /**
   * How a call's cache key is computed (Prefect 3's cache policies): `CachePolicies.INPUTS`,
   * `TASK_SOURCE`, `FLOW_PARAMETERS`, `RUN_ID`, `NONE`, `DEFAULT`, combined with `.add()` or
   * as a list. Default when results are persisted: `DEFAULT`. Implies `persistResult`.
   */
  cachePolicy?: CachePolicy | CachePolicy[];
  /** How long a cached result stays valid, in seconds (default: forever). */
  cacheExpiration?: number;
  /** The same as `cacheExpiration` (its earlier name). */
  cacheExpirationSeconds?: number;
  /**
   * Where the result record goes (Prefect's `result_storage_key`): a template rendered for each
   * call, e.g. `"{parameters[city]}-{flow_run.id}"`, with `parameters`, `flow_run` and
   * `task_run` fields (README "Results, caching and transactions"). Implies `persistResult`,
   * and takes the place of the cache policy: a later call that renders the same key, while
   * that record is valid, is a cache hit (unless `cachePolicy: CachePolicies.NONE`).
   */
  resultStorageKey?: string;
  /** Run even when a valid cached result exists, and replace it. */
  refreshCache?: boolean;
  /** Store the result as a record in result storage (default: see README "Results, caching and transactions"). */
  persistResult?: boolean;
  /** Where the result record goes (default: the flow's, else the default storage). */
  resultStorage?: ResultStorage;
  /** `"json"` (default), `"v8"`, a registered type, or a Serializer. */
  resultSerializer?: string | Serializer;
  /** Run when the transaction this task completed in commits (at once when it is in none). */
  onCommit?: TransactionHook | TransactionHook[];
  /** Run when the transaction this task completed in rolls back. */
  onRollback?: TransactionHook | TransactionHook[];
  /** Also record `console.log/info/warn/error` as the run's logs (default: as the flow run). */
  logPrints?: boolean;
  onCompletion?: TaskHook | TaskHook[];
  onFailure?: TaskHook | TaskHook[];
}

/** A task's argument, or a future of it (it is awaited before the task starts). */
export type Futurable<T> = T | TaskRunFuture<T>;

export type SubmitArgs<A extends unknown[]> = { [K in keyof A]: Futurable<A[K]> };

/** `task.map` arguments: arrays are mapped over, anything else (and `unmapped(...)`) is passed to every call. */
export type MapArgs<A extends unknown[]> = { [K in keyof A]: ReadonlyArray<Futurable<A[K]>> | Unmapped<A[K]> | Futurable<A[K]> };

/** A task: call it like the function (it returns a Promise of the result), or submit / map it. */
export interface TaskFunction<A extends unknown[], R> {
  (...args: A): Promise<R>;
  readonly name: string;
  readonly taskKey: string;
  readonly description: string | undefined;
  readonly options: Readonly<TaskOptions<A>>;
  readonly fn: (...args: A) => R | Promise<R>;
  /**
   * Starts a run concurrently and returns its future. Arguments may be futures of earlier runs.
   *
   * @example
   * const a = double.submit(1);
   * const b = double.submit(a);          // starts when `a` completes, with its result
   * console.log(await b.result());       // 4
   */
  submit(...args: SubmitArgs<A>): TaskRunFuture<R>;
  /**
   * One run per element: array arguments are mapped together (equal lengths), other arguments
   * (and arrays wrapped in `unmapped()`) are passed to every run.
   *
   * @example
   * const futures = add.map([1, 2, 3], 10);  // add(1, 10), add(2, 10), add(3, 10)
   * const sums = await Promise.all(futures.map((f) => f.result()));
   */
  map(...args: MapArgs<A>): Array<TaskRunFuture<R>>;
  /**
   * Runs the task in the background: creates a task run without a flow run, queued on the
   * server until a task worker serving this task (`serveTasks()`) claims and runs it. The
   * arguments must be JSON; they are kept in `$BATON_HOME/storage/parameters/` for the worker.
   * Needs a server (`BATON_API_URL`).
   *
   * @example
   * const future = resize.delay("photo.png", 200);
   * const path = await future.result();   // waits for a task worker to run it
   */
  delay(...args: SubmitArgs<A>): BackgroundTaskFuture<R>;
  /**
   * `delay` with the arguments as a list and options: `waitFor` futures finish first.
   *
   * @example
   * const a = fetchData.delay(1);
   * const b = report.applyAsync([7], { waitFor: [a] });
   */
  applyAsync(args: SubmitArgs<A>, options?: ApplyAsyncOptions): BackgroundTaskFuture<R>;
  /** The same task with some options changed. */
  withOptions(options: TaskOptions<A>): TaskFunction<A, R>;
}

/** Wraps an array so that `task.map` passes it whole to every run instead of mapping over it. */
export class Unmapped<T> {
  constructor(readonly value: T) {}
}

/**
 * Marks a `task.map` argument as passed whole to every run.
 *
 * @example
 * const scores = score.map(players, unmapped(rules)); // rules is an array, passed to each run
 */
export function unmapped<T>(value: T): Unmapped<T> {
  return new Unmapped(value);
}

/**
 * Makes a task: a function whose every call is a task run, reported to the server with its
 * states, retries, caching and logs. Inside a flow, the run belongs to the flow run.
 *
 * @example
 * import { flow, task } from "@baton/sdk";
 *
 * const fetchUser = task({ retries: 2, retryDelaySeconds: 1 }, async function fetchUser(id: number) {
 *   const response = await fetch(`https://example.com/users/${id}`);
 *   if (!response.ok) throw new Error(`HTTP ${response.status}`);
 *   return (await response.json()) as { name: string };
 * });
 *
 * const main = flow(async function main() {
 *   const user = await fetchUser(1);
 *   return user.name;
 * });
 */
export function task<A extends unknown[], R>(fn: (...args: A) => R): TaskFunction<A, Awaited<R>>;
export function task<A extends unknown[], R>(options: TaskOptions<A>, fn: (...args: A) => R): TaskFunction<A, Awaited<R>>;
export function task<A extends unknown[], R>(
  optionsOrFn: TaskOptions<A> | ((...args: A) => R),
  maybeFn?: (...args: A) => R,
): TaskFunction<A, Awaited<R>> {
  const [options, fn] = typeof optionsOrFn === "function" ? [{}, optionsOrFn] : [optionsOrFn, maybeFn];
  if (typeof fn !== "function") throw new InvalidOptionError("task", "expected task(fn) or task(options, fn)");
  return makeTask<A, Awaited<R>>(options, fn as (...args: A) => Awaited<R> | Promise<Awaited<R>>);
}

function makeTask<A extends unknown[], R>(options: TaskOptions<A>, fn: (...args: A) => R | Promise<R>): TaskFunction<A, R> {
  validateTaskOptions(options as TaskOptions<never>);
  const name = options.name ?? fn.name;
  if (!name) throw new InvalidOptionError("task.name", "the function has no name: pass { name } or a named function");
  const def: TaskDefinition<A, R> = { name, taskKey: taskKeyFor(name), fn, options };

  // Task run ids are UUIDv7s (time-ordered): the server's task_run table is keyed by them.
  const call = (...args: A): Promise<R> => runTask(def, args, newId());
  const submit = (...args: SubmitArgs<A>): TaskRunFuture<R> => {
    const taskRunId = newId();
    const future = new TaskRunFuture<R>(taskRunId, (observer) => runTask(def, args, taskRunId, observer));
    track(future);
    return future;
  };
  const map = (...args: MapArgs<A>): Array<TaskRunFuture<R>> =>
    expandMapArgs(args as unknown[]).map((callArgs) => submit(...(callArgs as SubmitArgs<A>)));

  const taskFn = call as TaskFunction<A, R>;
  Object.defineProperty(taskFn, "name", { value: name });
  Object.assign(taskFn, {
    taskKey: def.taskKey,
    description: options.description,
    options,
    fn,
    submit,
    map,
    delay: (...args: SubmitArgs<A>) => applyAsync(def, args),
    applyAsync: (args: SubmitArgs<A>, applyOptions?: ApplyAsyncOptions) => applyAsync(def, args ?? [], applyOptions),
    withOptions: (overrides: TaskOptions<A>) => makeTask<A, R>({ ...options, ...overrides }, fn),
  });
  return taskFn;
}

/** Registers a submitted run with the run that submitted it, which waits for it before finishing. */
function track(future: TaskRunFuture<unknown>): void {
  const store = currentStore();
  const pending = store?.flow?.pending ?? store?.task?.pending;
  if (pending === undefined) return;
  const settled = future.wait();
  pending.add(settled);
  // then, not finally: `wait()` never rejects, and finally costs two more promises per run.
  void settled.then(() => void pending.delete(settled));
}

/** The argument lists of `task.map`: one per element of the (equally long) array arguments. */
export function expandMapArgs(args: readonly unknown[]): unknown[][] {
  const lengths = args.filter((a): a is readonly unknown[] => Array.isArray(a)).map((a) => a.length);
  if (lengths.length === 0) {
    throw new InvalidInputError("map", "needs at least one array argument to map over (wrap arrays meant for every run in unmapped())");
  }
  const length = lengths[0] ?? 0;
  if (lengths.some((l) => l !== length)) {
    throw new InvalidInputError("map", `array arguments must have the same length (got ${lengths.join(", ")})`);
  }
  const calls: unknown[][] = [];
  for (let i = 0; i < length; i++) {
    calls.push(args.map((a) => (Array.isArray(a) ? (a as unknown[])[i] : a instanceof Unmapped ? (a.value as unknown) : a)));
  }
  return calls;
}
