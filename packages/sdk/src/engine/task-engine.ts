import { randomUUID } from "node:crypto";
import type { State, StateCreate, StateDetails, TaskRun, TaskRunPolicy } from "@baton/core";
import { currentStore, nextDynamicKey, runStore, type FlowRunContext, type RunStore, type TaskRunContext } from "../context.js";
import { openSession, type ApiSession } from "../ephemeral.js";
import { RetryHandedOffError, RunAbortedError, RunFailedError, TaskRunFailedError, UpstreamTaskError } from "../errors.js";
import { collectFutures, resolveFutures, type FutureObserver } from "../futures.js";
import { createRunLogger, installPrintCapture, type RunLogger } from "../logger.js";
import { describeError, serializeResult } from "../results/serializer.js";
import { SerializationError } from "../errors.js";
import { hasResult, prepareRecord, readRecord, readStateResult, writeRecord, type PreparedRecord } from "../results/store.js";
import type { TaskOptions } from "../task.js";
import { getTransaction, type Transaction, type TransactionHook, type TransactionHookContext } from "../transactions.js";
import type { CachePolicyContext } from "../cache/policies.js";
import type { StorageKeyContext } from "../results/storage-key.js";
import type { ResultRecordMetadata } from "@baton/core";
import { cacheKeyFor, expirationFrom, taskResultPlan, type ResultPlan } from "./results.js";
import { applyState, failedProposal, runAttempt } from "./attempt.js";
import { trackRunning } from "./crash.js";
import type { Abortable } from "./timeout.js";
import { yieldIfBusy } from "./event-loop.js";
import { orchestratedLocally } from "./local-task-run.js";
import { runHooks } from "./hooks.js";
import { namedParameters, parameterNames } from "./parameters.js";
import { sleepUntilScheduled } from "./retries.js";
import { describeState, enterRunning, proposeFinal, type RunTarget } from "./states.js";
import { taskRunPolicy } from "./wire.js";

export interface TaskDefinition<A extends unknown[], R> {
  readonly name: string;
  readonly taskKey: string;
  readonly fn: (...args: A) => R | Promise<R>;
  readonly options: TaskOptions<A>;
}

/**
 * Runs one task call as a task run: create the run (PENDING) in the current flow run, wait for
 * future arguments, propose RUNNING (which may answer from the cache), run the function, and
 * propose COMPLETED with the result or FAILED; a FAILED with retries left comes back as
 * AwaitingRetry, and the function runs again after the delay.
 *
 * Everything up to the first `await` runs synchronously in the caller, so `dynamic_key`s follow
 * call order even when many runs are submitted at once.
 */
export async function runTask<A extends unknown[], R>(
  def: TaskDefinition<A, R>,
  args: readonly unknown[],
  taskRunId: string,
  observer?: FutureObserver,
): Promise<R> {
  const store = currentStore();
  const flowCtx = store?.flow;
  if (flowCtx?.signal.aborted) {
    throw new RunAbortedError("flow", flowCtx.flowRun.id, "its attempt timed out, so it starts no more task runs");
  }
  const dynamicKey = flowCtx ? nextDynamicKey(flowCtx, def.taskKey) : randomUUID();
  // Taken before any await, so slots follow call order (an idempotent re-run matches results by them).
  const txn = getTransaction();
  const slot = txn?.nextSlot(def.taskKey);
  const inherited = flowCtx?.session ?? store?.task?.session;
  const parent = store?.task ?? flowCtx;
  const run =
    inherited !== undefined
      ? runTaskInSession(def, args, { taskRunId, dynamicKey, flowCtx, parent, session: inherited, observer, txn, slot })
      : (async () => {
          const session = await openSession();
          try {
            return await runTaskInSession(def, args, { taskRunId, dynamicKey, flowCtx, parent, session, observer, txn, slot });
          } finally {
            await session.release();
          }
        })();
  // The transaction commits only once every task started in it has finished (submitted ones too).
  txn?.track(run);
  return run;
}

/**
 * Runs a task run that already exists (a background task run a task worker has claimed:
 * PENDING) with the given arguments, in `session`. A FAILED attempt with retries left is not
 * retried here: the server queues the AwaitingRetry for any task worker, and this throws
 * `RetryHandedOffError`.
 */
export async function runTaskRun<A extends unknown[], R>(def: TaskDefinition<A, R>, taskRun: TaskRun, args: readonly unknown[], session: ApiSession): Promise<R> {
  return runTaskInSession(def, args, {
    taskRunId: taskRun.id,
    dynamicKey: taskRun.dynamic_key,
    flowCtx: undefined,
    parent: undefined,
    session,
    observer: undefined,
    existing: taskRun,
    txn: undefined,
    slot: undefined,
  });
}

/** The signal of a finished run's hooks: nothing aborts them. */
const NEVER_ABORTED_ATTEMPT = { signal: new AbortController().signal };

/**
 * A task attempt's AbortController, made only when something asks for its signal (the task's
 * code through getRunContext(), or its timeout): most tasks never do, and an AbortSignal is an
 * EventTarget, a costly object to make 5,000 times. Aborting before then is remembered.
 */
class LazyAbort {
  private controller: AbortController | undefined;
  private aborted = false;
  private reason: unknown;

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }

  abort(reason?: unknown): void {
    if (this.controller !== undefined) return this.controller.abort(reason);
    if (this.aborted) return;
    this.aborted = true;
    // What AbortController.abort() gives a signal aborted without a reason.
    this.reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
  }
}

/** The attempts of the running task runs of each flow run attempt, by the attempt's signal. */
const followers = new WeakMap<AbortSignal, Set<Abortable>>();

/**
 * Aborts `controller` when `signal` aborts, until the returned function is called. One listener
 * per flow run attempt serves all its task runs: an EventTarget looks through its listeners on
 * every add and remove, so one each made a 5,000-task map quadratic (a third of the SDK's time).
 */
function abortWith(signal: AbortSignal, controller: Abortable): () => void {
  if (signal.aborted) {
    controller.abort(signal.reason);
    return () => undefined;
  }
  let set = followers.get(signal);
  if (set === undefined) {
    const controllers = new Set<Abortable>();
    set = controllers;
    followers.set(signal, controllers);
    signal.addEventListener("abort", () => {
      for (const c of controllers) c.abort(signal.reason);
      controllers.clear();
    }, { once: true });
  }
  set.add(controller);
  const linked = set;
  return () => void linked.delete(controller);
}

interface TaskCall {
  taskRunId: string;
  dynamicKey: string;
  flowCtx: FlowRunContext | undefined;
  parent: FlowRunContext | TaskRunContext | undefined;
  session: ApiSession;
  observer: FutureObserver | undefined;
  /** A run created elsewhere (runTaskRun): not created here, and its retries are handed off. */
  existing?: TaskRun;
  /** The transaction the call was made in, and the call's slot in it. */
  txn: Transaction | undefined;
  slot: string | undefined;
}

async function runTaskInSession<A extends unknown[], R>(def: TaskDefinition<A, R>, args: readonly unknown[], call: TaskCall): Promise<R> {
  const { flowCtx, session, observer } = call;
  const { client } = session;
  const logPrints = def.options.logPrints ?? call.parent?.logPrints ?? false;
  if (logPrints) installPrintCapture();

  const plan = taskResultPlan(def.options as TaskOptions<never>, flowCtx, call.txn, () => client);
  // A run nothing on the server needs to decide is orchestrated here and reported in batches.
  const local = orchestratedLocally(def.options as TaskOptions<never>, flowCtx, call.existing, plan.cachePolicy !== undefined || plan.storageKey !== undefined);
  const plainArgs = args.every(isPlainValue);
  // A run orchestrated here whose arguments hold no futures waits for its turn (see
  // event-loop.ts) before it is created rather than after: created, run and finished in one
  // stretch, its objects die young. A `.map()` of 5,000 made them all first, and every
  // scavenge of the young generation copied 5,000 runs' worth of them (the SDK's largest
  // cost, its garbage collection). Its states and their order are the same; only its PENDING
  // is reported when it starts. A run with futures among its arguments is created at once,
  // so it shows PENDING while it waits for them, as on the server path.
  const createWhenItsTurn = local !== undefined && plainArgs;
  if (createWhenItsTurn) {
    // A later microtask in any case, so `submit()` and `map()` return before any run starts.
    await undefined;
    const turn = yieldIfBusy();
    if (turn !== undefined) await turn;
  }
  const input = {
    id: call.taskRunId,
    name: `${def.name}-${flowCtx ? call.dynamicKey : call.dynamicKey.slice(0, 8)}`,
    flow_run_id: flowCtx?.flowRun.id ?? null,
    task_key: def.taskKey,
    dynamic_key: call.dynamicKey,
    task_version: def.options.version ?? null,
    empirical_policy: policyOf(def.options as TaskOptions<never>),
    tags: def.options.tags ?? [],
    task_inputs: taskInputs(def.fn, args),
    state: { type: "PENDING" as const, name: "Pending" },
  };
  const created = call.existing ?? (local ? local.create(input) : await client.createTaskRun(input));
  // A new run is this call's own object already; an existing one is the caller's.
  const taskRun: TaskRun = call.existing !== undefined ? { ...created } : created;
  observer?.created(taskRun);
  // Made when first used (most runs log only their final line): fewer objects live per run in flight.
  let runLogger: RunLogger | undefined;
  const log = (): RunLogger =>
    (runLogger ??= createRunLogger({ kind: "task", runName: taskRun.name, flowRunId: taskRun.flow_run_id, taskRunId: taskRun.id, shipper: session.logs, settings: flowCtx?.settings }));
  flowCtx?.logger.info(`Created task run '${taskRun.name}' for task '${def.name}'`);
  const onState = (state: State) => {
    applyState(taskRun, state);
    observer?.state(state);
  };
  const contextFor = (abort: { readonly signal: AbortSignal }): TaskRunContext => ({
    kind: "task",
    taskName: def.name,
    taskRun,
    session,
    get logger() {
      return log();
    },
    logPrints,
    get signal() {
      return abort.signal;
    },
    pending: new Set(),
  });

  // The same call in an earlier attempt of this flow run completed: keep its result (Prefect
  // does the same, so a flow retry does not redo work that succeeded).
  if (created.id !== call.taskRunId && created.state?.type === "COMPLETED" && hasResult(created.state)) {
    log().info(`Task run already completed in an earlier attempt of the flow run; reusing its result`);
    return (await readStateResult(created.state, client, { storage: await plan.storage() })) as R;
  }

  let resolvedArgs: A;
  try {
    if (createWhenItsTurn) {
      resolvedArgs = args as A;
    } else if (plainArgs) {
      // Nothing to resolve; the run still goes on in a later microtask, as it would after
      // resolving futures, so `submit()` and `map()` return before any run's function starts.
      await undefined;
      resolvedArgs = args as A;
    } else {
      resolvedArgs = (await resolveFutures([...args])) as A;
    }
  } catch (error) {
    const upstream = error instanceof RunFailedError ? error.runId : "unknown";
    log().error(`Upstream task run ${upstream} did not complete; this task run will not start`);
    throw new UpstreamTaskError(taskRun.id, upstream, { cause: error });
  }

  if (local && !createWhenItsTurn) {
    // Let the event loop send the reports of the task runs before this one (see event-loop.ts).
    const turn = yieldIfBusy();
    if (turn !== undefined) await turn;
  }
  if (plan.ignoredCache !== undefined) log().warning(`Task '${def.name}': ${plan.ignoredCache}`);
  // The record's key: the rendered resultStorageKey, else the cache policy's key, else none (a random one).
  let cacheKey: string | undefined;
  let keyError: unknown;
  if (plan.storageKey !== undefined) {
    try {
      cacheKey = plan.storageKey.render(storageKeyContext(def, resolvedArgs, taskRun, flowCtx));
    } catch (error) {
      keyError = error;
    }
  } else if (plan.cachePolicy !== undefined) {
    cacheKey = cacheKeyFor(plan, cacheContext(def, resolvedArgs, taskRun, flowCtx), (message) => log().warning(message));
  }
  const cacheDetails = (expiration: string | null): StateDetails => (cacheKey !== undefined && plan.lookUp ? { cache_key: cacheKey, cache_expiration: expiration } : {});
  const target: RunTarget = { kind: "task", id: taskRun.id, client };
  let runningName = "Running";
  let live: { value: R } | undefined;
  let failure: unknown;
  let finalState: State | undefined;
  let persisted: PreparedRecord | undefined;
  let cachedFrom: ResultRecordMetadata | undefined;
  // From here until the run is final, a SIGINT/SIGTERM marks it CRASHED.
  const untrack = local ? local.track() : trackRunning(target);
  try {
    // A committed transaction's re-run, or a valid cache entry: the run completes as "Cached" without running.
    let hit: Awaited<ReturnType<typeof cachedResult>>;
    try {
      if (keyError !== undefined) throw keyError;
      // Nothing to look up (no transaction slot, no key) is no await either.
      hit = call.slot === undefined && cacheKey === undefined ? undefined : await cachedResult(plan, call, cacheKey);
    } catch (error) {
      // A resultStorageKey the call cannot render, an unreadable record (or an unknown serializer)
      // fails the run at once, not retried: running again meets the same key or record.
      failure = error;
      const proposal = failedProposal("task", { error, timedOut: false });
      const finished = local
        ? local.proposeFinal({ ...proposal, state_details: { retriable: false } })
        : await proposeFinal(target, { ...proposal, state_details: { retriable: false } });
      onState(finished.state);
      finalState = finished.state;
    }
    if (hit !== undefined) {
      cachedFrom = hit.metadata;
      live = { value: hit.value as R };
      const proposal: StateCreate = {
        type: "COMPLETED",
        name: "Cached",
        data: hit.metadata,
        state_details: cacheDetails(hit.metadata.expiration),
      };
      const finished = local ? local.proposeFinal(proposal) : await proposeFinal(target, proposal);
      onState(finished.state);
      finalState = finished.state;
      log().info(hit.why);
    }
    while (finalState === undefined) {
      const entered = local ? local.enterRunning({ name: runningName, onState }) : await enterRunning(target, { name: runningName, onState });
      if (entered.outcome === "done") {
        finalState = entered.state;
        break;
      }
      taskRun.run_count += 1;
      const controller = new LazyAbort();
      // A flow run attempt that times out aborts the signal of its running tasks too.
      const unlink = flowCtx ? abortWith(flowCtx.signal, controller) : undefined;
      const taskCtx = contextFor(controller);
      const attempt = await runAttempt<R>(() => runStore.run({ flow: flowCtx, task: taskCtx }, () => def.fn(...resolvedArgs)), {
        run: target,
        timeoutSeconds: def.options.timeoutSeconds,
        controller,
        pending: taskCtx.pending,
      });
      unlink?.();

      let proposal: StateCreate;
      if (attempt.ok) {
        live = { value: attempt.value };
        failure = undefined;
        persisted = plan.persist ? await prepareResult(plan, attempt.value, cacheKey, (message) => log().warning(message)) : undefined;
        if (persisted !== undefined) {
          // Outside a transaction the record is written now, so whoever reads this state finds it;
          // inside one it is written when the transaction commits.
          if (call.txn === undefined) await writeRecord(persisted);
          const details = cacheDetails(persisted.metadata.expiration);
          proposal = { type: "COMPLETED", name: "Completed", data: persisted.metadata, state_details: details };
        } else {
          const serialized = serializeResult(attempt.value);
          const details: StateDetails = {};
          if (serialized.untrackable) {
            details.untrackable_result = true;
            log().debug("The result is not plain JSON; it is returned to the caller but not recorded");
          }
          proposal = { type: "COMPLETED", name: "Completed", data: serialized.data, state_details: details };
        }
      } else {
        live = undefined;
        failure = attempt.error;
        proposal = failedProposal("task", attempt);
      }

      const finished = local ? local.proposeFinal(proposal) : await proposeFinal(target, proposal);
      onState(finished.state);
      if (finished.outcome === "retry") {
        const retries = def.options.retries ?? 0;
        log().warning(
          `Task run failed with exception: ${describeError(failure)} - Retry ${taskRun.run_count}/${retries} will start at ${finished.state.state_details.scheduled_time ?? "once allowed"}`,
        );
        if (call.existing) throw new RetryHandedOffError(taskRun.id, finished.state);
        await sleepUntilScheduled(finished.state);
        runningName = "Retrying";
        continue;
      }
      finalState = finished.state;
      break;
    }
  } finally {
    untrack();
  }

  const hookStore = (): RunStore => ({ flow: flowCtx, task: contextFor(NEVER_ABORTED_ATTEMPT) });
  const final: State = finalState;
  if (final.type === "COMPLETED") {
    log().info(`Finished in state ${describeState(final)}`);
    const value = live !== undefined ? live.value : ((await readStateResult(final, client, { storage: await plan.storage() })) as R);
    // Outside a transaction, and without hooks, there is nothing to commit (see commitTask).
    if (call.txn !== undefined || def.options.onCommit !== undefined || def.options.onCompletion !== undefined) {
      await runStore.run(hookStore(), async () => {
        await commitTask(def, call, taskRun, value, persisted, cachedFrom, log());
        await runHooks(def.options.onCompletion, { taskName: def.name, taskRun, state: final, result: value, error: undefined }, log(), "onCompletion");
      });
    }
    return value;
  }
  // As in Prefect, a task that fails inside a transaction rolls the transaction back.
  if (call.txn !== undefined) await runStore.run(hookStore(), () => call.txn!.rollback());
  if (failure !== undefined) log().error(`Task run failed with exception: ${stackOf(failure)}`);
  log().error(`Finished in state ${describeState(finalState)}`);
  const error = new TaskRunFailedError(taskRun.id, taskRun.name, finalState, { cause: failure });
  await runStore.run(hookStore(), () =>
    runHooks(def.options.onFailure, { taskName: def.name, taskRun, state: finalState, result: undefined, error: failure ?? error }, log(), "onFailure"),
  );
  throw error;
}

/** A value that cannot hold a future (no walk of it needed). */
function isPlainValue(value: unknown): boolean {
  return value === null || (typeof value !== "object" && typeof value !== "function");
}

/** A task's retry policy, the same object for all its runs (its options do not change). */
const policies = new WeakMap<object, TaskRunPolicy>();

function policyOf(options: TaskOptions<never>): TaskRunPolicy {
  let policy = policies.get(options);
  if (policy === undefined) {
    policy = taskRunPolicy(options);
    policies.set(options, policy);
  }
  return policy;
}

/** `task_inputs`: for each parameter, the task runs whose futures feed it (the run graph's edges). */
function taskInputs(fn: (...args: never[]) => unknown, args: readonly unknown[]): Record<string, Array<{ input_type: "task_run"; id: string }>> {
  const names = parameterNames(fn);
  const inputs: Record<string, Array<{ input_type: "task_run"; id: string }>> = {};
  args.forEach((arg, i) => {
    const p = names[Math.min(i, names.length - 1)];
    const name = p === undefined || (i >= names.length && !p.rest) ? `arg${i}` : p.name;
    const list = (inputs[name] ??= []);
    if (isPlainValue(arg)) return;
    for (const future of collectFutures(arg)) list.push({ input_type: "task_run", id: future.taskRunId });
  });
  return inputs;
}

function cacheContext<A extends unknown[], R>(def: TaskDefinition<A, R>, args: A, taskRun: TaskRun, flowCtx: FlowRunContext | undefined): CachePolicyContext {
  return {
    taskName: def.name,
    taskKey: def.taskKey,
    args,
    parameters: namedParameters(def.fn, args),
    flowRunId: taskRun.flow_run_id ?? undefined,
    taskSource: def.fn.toString(),
    taskRunId: taskRun.id,
    flowParameters: flowCtx?.flowRun.parameters,
  };
}

/** What a `resultStorageKey` template is rendered with (results/storage-key.ts). */
function storageKeyContext<A extends unknown[], R>(def: TaskDefinition<A, R>, args: A, taskRun: TaskRun, flowCtx: FlowRunContext | undefined): StorageKeyContext {
  const parameters = namedParameters(def.fn, args);
  const flowRun = flowCtx?.flowRun;
  return {
    parameters,
    task_run: { id: taskRun.id, name: taskRun.name, task_name: def.name, tags: taskRun.tags, parameters, run_count: taskRun.run_count },
    flow_run: {
      id: flowRun?.id ?? null,
      name: flowRun?.name ?? null,
      flow_name: flowCtx?.flowName ?? null,
      tags: flowRun?.tags ?? [],
      parameters: flowRun?.parameters ?? {},
      // Prefect's runtime gives the expected start, else now.
      scheduled_start_time: flowRun === undefined ? null : (flowRun.expected_start_time ?? flowRun.start_time ?? new Date().toISOString()),
      run_count: flowRun?.run_count ?? 0,
      deployment_id: flowRun?.deployment_id ?? null,
      parent_task_run_id: flowRun?.parent_task_run_id ?? null,
    },
    deployment: { id: flowRun?.deployment_id ?? null },
  };
}

/** The stored result of a call of a committed transaction, or a valid cache entry at its key. */
async function cachedResult(plan: ResultPlan, call: TaskCall, cacheKey: string | undefined): Promise<{ metadata: ResultRecordMetadata; value: unknown; why: string } | undefined> {
  const stored = call.slot !== undefined ? call.txn?.storedResult(call.slot) : undefined;
  if (stored !== undefined) {
    // The record went to the task's storage (the transaction's unless the task or flow names one).
    const value = await readStateResult({ id: call.taskRunId, data: stored, state_details: {} }, call.session.client, { storage: await plan.storage() });
    return { metadata: stored, value, why: `Transaction '${call.txn?.key ?? ""}' is already committed; returning this call's stored result` };
  }
  if (cacheKey === undefined || plan.refreshCache || !plan.lookUp) return undefined;
  const storage = await plan.storage();
  const record = await readRecord(storage, cacheKey, { ignoreExpired: true });
  if (record === undefined) return undefined;
  return { metadata: record.metadata, value: record.value, why: `Cache hit: a valid result for cache key ${cacheKey.slice(0, 16)}... in ${storage.describe()}` };
}

/** The result's record, or undefined (logged) when the serializer cannot take the value: the run still completes, unpersisted. */
async function prepareResult(plan: ResultPlan, value: unknown, cacheKey: string | undefined, warn: (message: string) => void): Promise<PreparedRecord | undefined> {
  try {
    return prepareRecord(value, { storage: await plan.storage(), serializer: plan.serializer, key: cacheKey, expiration: expirationFrom(plan.expirationSeconds) });
  } catch (error) {
    if (!(error instanceof SerializationError)) throw error;
    warn(`${error.message}. The run completes, but its result is not persisted (and not cached)`);
    return undefined;
  }
}

/**
 * A completed task commits: inside a transaction its record and hooks are staged on it (written
 * and run when it commits); outside one its record is written already and `onCommit` runs now.
 */
async function commitTask<A extends unknown[], R>(
  def: TaskDefinition<A, R>,
  call: TaskCall,
  taskRun: TaskRun,
  value: R,
  persisted: PreparedRecord | undefined,
  cachedFrom: ResultRecordMetadata | undefined,
  logger: RunLogger,
): Promise<void> {
  const context: TransactionHookContext = { transaction: call.txn, taskName: def.name, taskRunId: taskRun.id, result: value };
  const runTxnHooks = (hooks: TransactionHook | TransactionHook[] | undefined, kind: string, rethrow: boolean) => async () => {
    for (const hook of hooks === undefined ? [] : Array.isArray(hooks) ? hooks : [hooks]) {
      const name = hook.name || "anonymous";
      logger.info(`Running ${kind} hook '${name}'`);
      try {
        await hook(context);
      } catch (error) {
        logger.error(`An error was encountered while running ${kind} hook '${name}': ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
        if (rethrow) throw error;
      }
    }
  };
  if (call.txn === undefined || call.slot === undefined) {
    if (cachedFrom === undefined) await runTxnHooks(def.options.onCommit, "commit", false)();
    return;
  }
  if (cachedFrom !== undefined) {
    await call.txn.stage({ slot: call.slot, metadata: cachedFrom, record: undefined, onCommit: async () => undefined, onRollback: async () => undefined });
    return;
  }
  await call.txn.stage({
    slot: call.slot,
    metadata: persisted?.metadata,
    record: persisted,
    onCommit: runTxnHooks(def.options.onCommit, "commit", true),
    onRollback: runTxnHooks(def.options.onRollback, "rollback", true),
  });
}

function stackOf(error: unknown): string {
  return error instanceof Error ? (error.stack ?? describeError(error)) : describeError(error);
}
