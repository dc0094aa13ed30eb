import type { FlowRun, State } from "@baton/core";
import { InvalidOptionError, type FlowRunFailedError } from "./errors.js";
import { runExistingFlowRun, runFlow, type FlowDefinition } from "./engine/flow-engine.js";
import { validateFlowOptions } from "./engine/wire.js";
import type { Serializer } from "./results/serializers.js";
import type { ResultStorage } from "./results/storage.js";

/** What a flow's `onCompletion` / `onFailure` hook receives. */
export interface FlowHookContext {
  flowName: string;
  /** The run, with its final state. */
  flowRun: FlowRun;
  state: State;
  /** The return value (onCompletion). */
  result: unknown;
  /** What failed the run (onFailure): the function's error, or a `TimeoutError`. */
  error: unknown;
}
export type FlowHook = (context: FlowHookContext) => void | Promise<void>;

export interface FlowOptions {
  /** Defaults to the function's name. Must not contain / % & > <. */
  name?: string;
  /** Kept on the flow function (`.description`); the API has no field for it outside deployments. */
  description?: string;
  /** Recorded as the run's `flow_version`. */
  version?: string;
  /** How many times a failed run is tried again (default 0). */
  retries?: number;
  /** Delay before each retry (default 0). */
  retryDelaySeconds?: number;
  /** Each attempt fails as "TimedOut" after this many seconds. */
  timeoutSeconds?: number;
  tags?: string[];
  /** Also record `console.log/info/warn/error` as the run's logs; tasks inherit it. */
  logPrints?: boolean;
  onCompletion?: FlowHook | FlowHook[];
  onFailure?: FlowHook | FlowHook[];
  /** Store the flow's result as a record in result storage; tasks that say nothing inherit it. */
  persistResult?: boolean;
  /** Where this flow's (and its tasks') result records go. */
  resultStorage?: ResultStorage;
  /** `"json"` (default), `"v8"`, a registered type, or a Serializer; tasks inherit it. */
  resultSerializer?: string | Serializer;
}

/** How a flow run ended, from `flow.run(...)`. */
export type FlowRunOutcome<R> = { flowRun: FlowRun; state: State } & ({ ok: true; result: R } | { ok: false; error: FlowRunFailedError });

/** A flow: call it like the function (it returns a Promise of the result); each call is a flow run. */
export interface FlowFunction<A extends unknown[], R> {
  /** Runs the flow; rejects with `FlowRunFailedError` if the run does not complete. */
  (...args: A): Promise<R>;
  readonly name: string;
  readonly description: string | undefined;
  readonly options: Readonly<FlowOptions>;
  readonly fn: (...args: A) => R | Promise<R>;
  /**
   * Runs the flow and resolves with the run and its final state instead of rejecting when it
   * fails (Prefect's `return_state=True`). It still rejects on ABORT or if the server is unreachable.
   *
   * @example
   * const { flowRun, state, ok } = await etl.run("2026-01-01");
   * console.log(flowRun.id, state.type, ok);
   */
  run(...args: A): Promise<FlowRunOutcome<R>>;
  /**
   * Runs the flow for a flow run that already exists (a deployment's run, as `baton flow-run
   * execute` does in a worker's process): proposes RUNNING on that run, calls the function
   * with the run's recorded parameters, and resolves with how it ended, as `.run()` does.
   *
   * `flowRun` is the run as the caller has just read it, which saves reading it again (a
   * worker's run process reads it to find the deployment); its id must be `flowRunId`.
   *
   * @example
   * const { state } = await etl.runExisting("0192f6c4-8d2e-7c3b-9a41-5e8f2d1b6a70");
   * process.exitCode = state.type === "COMPLETED" ? 0 : 1;
   */
  runExisting(flowRunId: string, options?: { flowRun?: FlowRun }): Promise<FlowRunOutcome<R>>;
  /** The same flow with some options changed. */
  withOptions(options: FlowOptions): FlowFunction<A, R>;
}

/**
 * Makes a flow: every call creates a flow run on the server (creating the flow by name if
 * needed), reports its states, and runs the function with the run in context, so tasks it
 * calls become its task runs and flows it calls become its subflow runs.
 *
 * @example
 * import { flow, task } from "@baton/sdk";
 *
 * const double = task(function double(n: number) { return n * 2; });
 *
 * const pipeline = flow({ name: "pipeline", retries: 1 }, async (n: number) => {
 *   const futures = double.map([n, n + 1, n + 2]);
 *   return Promise.all(futures.map((f) => f.result()));
 * });
 *
 * console.log(await pipeline(1)); // [2, 4, 6]
 */
export function flow<A extends unknown[], R>(fn: (...args: A) => R): FlowFunction<A, Awaited<R>>;
export function flow<A extends unknown[], R>(options: FlowOptions, fn: (...args: A) => R): FlowFunction<A, Awaited<R>>;
export function flow<A extends unknown[], R>(
  optionsOrFn: FlowOptions | ((...args: A) => R),
  maybeFn?: (...args: A) => R,
): FlowFunction<A, Awaited<R>> {
  const [options, fn] = typeof optionsOrFn === "function" ? [{}, optionsOrFn] : [optionsOrFn, maybeFn];
  if (typeof fn !== "function") throw new InvalidOptionError("flow", "expected flow(fn) or flow(options, fn)");
  return makeFlow<A, Awaited<R>>(options, fn as (...args: A) => Awaited<R> | Promise<Awaited<R>>);
}

function makeFlow<A extends unknown[], R>(options: FlowOptions, fn: (...args: A) => R | Promise<R>): FlowFunction<A, R> {
  validateFlowOptions(options);
  const name = options.name ?? fn.name;
  if (!name) throw new InvalidOptionError("flow.name", "the function has no name: pass { name } or a named function");
  const def: FlowDefinition<A, R> = { name, fn, options };

  const call = async (...args: A): Promise<R> => {
    const outcome = await runFlow(def, args);
    if (!outcome.ok) throw outcome.error;
    return outcome.result;
  };
  const flowFn = call as FlowFunction<A, R>;
  Object.defineProperty(flowFn, "name", { value: name });
  Object.assign(flowFn, {
    description: options.description,
    options,
    fn,
    run: (...args: A) => runFlow(def, args),
    runExisting: (flowRunId: string, runOptions?: { flowRun?: FlowRun }) => runExistingFlowRun(def, flowRunId, runOptions?.flowRun),
    withOptions: (overrides: FlowOptions) => makeFlow<A, R>({ ...options, ...overrides }, fn),
  });
  return flowFn;
}
