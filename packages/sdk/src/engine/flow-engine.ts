import { setMaxListeners } from "node:events";
import { randomUUID } from "node:crypto";
import type { FlowRun, State, StateCreate, StateDetails, TaskRun } from "@baton/core";
import { taskKeyFor } from "../cache/keys.js";
import { currentStore, nextDynamicKey, runStore, type FlowRunContext, type RunStore } from "../context.js";
import { openSession, type ApiSession } from "../ephemeral.js";
import { FlowRunFailedError, FlowRunSuspendedError, InvalidOptionError, RunAbortedError } from "../errors.js";
import type { FlowOptions, FlowRunOutcome } from "../flow.js";
import { resolveFutures } from "../futures.js";
import { createRunLogger, installPrintCapture, type RunLogger, type RunLoggerTarget } from "../logger.js";
import { describeError, errorData, serializeResult } from "../results/serializer.js";
import { SerializationError } from "../errors.js";
import { hasResult, prepareRecord, readStateResult, writeRecord } from "../results/store.js";
import { flowResultOptions, flowResultPlan } from "./results.js";
import { currentSettings } from "../settings.js";
import { applyState, failedProposal, runAttempt } from "./attempt.js";
import { trackRunning } from "./crash.js";
import { flushTaskRunReports } from "./task-run-reporter.js";
import { beatWhileRunning } from "./heartbeat.js";
import { runHooks } from "./hooks.js";
import { argumentsFromParameters, namedParameters, toJsonSafe } from "./parameters.js";
import { sleepUntilScheduled } from "./retries.js";
import { describeState, enterRunning, proposeFinal, proposeState, type RunTarget } from "./states.js";
import { flowRunPolicy } from "./wire.js";

export interface FlowDefinition<A extends unknown[], R> {
  readonly name: string;
  readonly fn: (...args: A) => R | Promise<R>;
  readonly options: FlowOptions;
}

/**
 * Runs one flow call as a flow run: create the flow (by name) and the run (PENDING), propose
 * RUNNING, run the function with the run in context, wait for the task runs it submitted, and
 * propose COMPLETED with the result or FAILED; a FAILED with retries left comes back as
 * AwaitingRetry and the function runs again after the delay.
 *
 * Called inside another flow run it is a subflow: as Prefect does, a task run stands for it in
 * the parent flow run, and the child run points to it with `parent_task_run_id`.
 */
export async function runFlow<A extends unknown[], R>(def: FlowDefinition<A, R>, args: A): Promise<FlowRunOutcome<R>> {
  const store = currentStore();
  const parent = store?.flow;
  if (parent?.signal.aborted) {
    throw new RunAbortedError("flow", parent.flowRun.id, "its attempt timed out, so it starts no more subflow runs");
  }
  // Taken before any await, so the parent's dynamic keys follow call order.
  const parentTaskKey = taskKeyFor(def.name);
  const parentDynamicKey = parent ? nextDynamicKey(parent, parentTaskKey) : undefined;
  const inherited = parent?.session ?? store?.task?.session;
  const session = inherited ?? (await openSession());
  try {
    return await runFlowInSession(def, args, { store, parent, parentTaskKey, parentDynamicKey, session });
  } finally {
    if (inherited === undefined) await session.release();
  }
}

interface FlowCall {
  store: RunStore | undefined;
  parent: FlowRunContext | undefined;
  parentTaskKey: string;
  parentDynamicKey: string | undefined;
  session: ApiSession;
  /** A run created elsewhere (a deployment's run claimed by a worker): run it instead of creating one. */
  existing?: FlowRun;
}

/**
 * Runs a flow for a flow run that already exists, by id: a deployment's run that a worker
 * claimed (PENDING) and started in a process of its own. No run is created; its recorded
 * parameters become the arguments and RUNNING is proposed on it. As Prefect does, the flow's
 * retries and version fill in what the run does not set, so the server's retry rule sees them.
 * Parameters that match none of the function's fail the run without calling it.
 */
export async function runExistingFlowRun<A extends unknown[], R>(def: FlowDefinition<A, R>, flowRunId: string, known?: FlowRun): Promise<FlowRunOutcome<R>> {
  if (currentStore()?.flow !== undefined) {
    throw new InvalidOptionError("runExisting", "an existing flow run is run on its own, not inside another flow run");
  }
  if (known !== undefined && known.id !== flowRunId) {
    throw new InvalidOptionError("runExisting.flowRun", `is run ${known.id}, not ${flowRunId}`);
  }
  const session = await openSession();
  try {
    const flowRun = { ...(known ?? (await session.client.readFlowRun(flowRunId))) };
    let args: A;
    try {
      args = argumentsFromParameters(def.fn, flowRun.parameters) as A;
    } catch (error) {
      return await failWithoutRunning(session, flowRun, error);
    }
    const policy = flowRun.empirical_policy;
    const defaults = flowRunPolicy(def.options);
    // A run without retries of its own takes the flow's; none (0) is what the server reads from null already.
    const fillRetries = policy.retries == null && policy.max_retries === 0 && (defaults.retries ?? 0) > 0;
    const fillVersion = flowRun.flow_version == null && def.options.version !== undefined;
    if (fillRetries || fillVersion) {
      if (fillRetries) flowRun.empirical_policy = { ...policy, retries: defaults.retries, retry_delay: policy.retry_delay ?? defaults.retry_delay };
      if (fillVersion) flowRun.flow_version = def.options.version ?? null;
      await session.client.updateFlowRun(flowRunId, {
        ...(fillRetries ? { empirical_policy: flowRun.empirical_policy } : {}),
        ...(fillVersion ? { flow_version: flowRun.flow_version } : {}),
      });
    }
    return await runFlowInSession(def, args, { store: undefined, parent: undefined, parentTaskKey: taskKeyFor(def.name), parentDynamicKey: undefined, session, existing: flowRun });
  } finally {
    await session.release();
  }
}

/** Parameters that cannot be bound fail the run, as Prefect's "Validation of flow parameters failed". */
async function failWithoutRunning<R>(session: ApiSession, flowRun: FlowRun, error: unknown): Promise<FlowRunOutcome<R>> {
  const target: RunTarget = { kind: "flow", id: flowRun.id, client: session.client };
  const finished = await proposeFinal(target, {
    type: "FAILED",
    name: "Failed",
    message: `Validation of flow parameters failed with error: ${describeError(error)}`,
    data: errorData(error),
  });
  applyState(flowRun, finished.state);
  return { ok: false, flowRun, state: finished.state, error: new FlowRunFailedError(flowRun.id, flowRun.name, finished.state, { cause: error }) };
}

async function runFlowInSession<A extends unknown[], R>(def: FlowDefinition<A, R>, callArgs: A, call: FlowCall): Promise<FlowRunOutcome<R>> {
  const { session, parent } = call;
  // Futures passed to a subflow are awaited first, as Prefect does.
  const args = (await resolveFutures([...callArgs])) as A;
  const { client } = session;
  const logPrints = def.options.logPrints ?? (call.store?.task ?? parent)?.logPrints ?? false;
  if (logPrints) installPrintCapture();

  let flowRun: FlowRun;
  let parentTaskRun: TaskRun | undefined;
  if (call.existing !== undefined) {
    flowRun = call.existing;
  } else {
    const created = await createRunForCall(def, args, call);
    if (created.reused !== undefined) return created.reused;
    ({ flowRun, parentTaskRun } = created);
  }
  // Its records follow the settings of the attempt under way (the first one's until it starts).
  const loggerTarget: RunLoggerTarget = { kind: "flow", runName: flowRun.name, flowRunId: flowRun.id, taskRunId: null, shipper: session.logs, settings: currentSettings() };
  const logger = createRunLogger(loggerTarget);
  logger.info(`Beginning ${parent ? "subflow " : ""}flow run '${flowRun.name}' for flow '${def.name}'`);
  const mirror = async (state: State) => {
    if (parentTaskRun !== undefined) await mirrorToParentTaskRun(session, parentTaskRun.id, flowRun.id, state, logger);
  };

  const target: RunTarget = { kind: "flow", id: flowRun.id, client };
  const onState = (state: State) => applyState(flowRun, state);
  const contextFor = (controller: AbortController): FlowRunContext => ({
    kind: "flow",
    flowName: def.name,
    flowRun,
    session,
    logger,
    logPrints,
    signal: controller.signal,
    dynamicKeys: new Map(),
    pending: new Set(),
    results: flowResultOptions(def.options),
    settings: currentSettings(),
  });
  const resultPlan = flowResultPlan(def.options, () => client);

  let runningName = "Running";
  let live: { value: R } | undefined;
  let failure: unknown;
  let finalState: State;
  // From here until the run is final, a SIGINT/SIGTERM marks it CRASHED.
  const untrack = trackRunning(target);
  // Heartbeats from the first RUNNING until the run is final, so the server can tell a dead process from a long run.
  let stopHeartbeats: (() => void) | undefined;
  try {
    for (;;) {
      const entered = await enterRunning(target, { name: runningName, onState, scheduledTime: () => flowRun.state?.state_details.scheduled_time });
      if (entered.outcome === "done") {
        finalState = entered.state;
        break;
      }
      flowRun.run_count += 1;
      stopHeartbeats ??= beatWhileRunning(
        client,
        { id: flowRun.id, name: flowRun.name, flowId: flowRun.flow_id, flowName: def.name, deploymentId: flowRun.deployment_id },
        (error) => logger.warning(`Could not send a heartbeat for this flow run (${describeError(error)}); if none arrives for long, the server may mark the run CRASHED`),
      );
      await mirror(entered.state);
      const controller = new AbortController();
      // Every task run of the attempt listens to its signal: a 5,000-task map is not a leak.
      setMaxListeners(Infinity, controller.signal);
      const ctx = contextFor(controller);
      loggerTarget.settings = ctx.settings;
      const attempt = await runAttempt<R>(
        async () => (await resolveFutures(await runStore.run({ flow: ctx, task: undefined }, () => def.fn(...args)))) as R,
        { run: target, timeoutSeconds: def.options.timeoutSeconds, controller, pending: ctx.pending },
      );

      // Task runs orchestrated in this process are on the server before the flow run's next state.
      await flushTaskRunReports(client).catch((error: unknown) =>
        logger.warning(`Could not report some task runs' states to the server (${describeError(error)}); they may show stale states`),
      );
      if (!attempt.ok && attempt.error instanceof FlowRunSuspendedError) {
        // Suspended: the run stays PAUSED (to be rescheduled); nothing final is proposed here.
        const suspended = (await client.readFlowRun(flowRun.id)).state;
        if (suspended) {
          onState(suspended);
          finalState = suspended;
          failure = attempt.error;
          break;
        }
      }
      let proposal: StateCreate;
      if (attempt.ok) {
        live = { value: attempt.value };
        failure = undefined;
        let reference: Record<string, unknown> | undefined;
        if (resultPlan.persist) {
          try {
            reference = await writeRecord(prepareRecord(attempt.value, { storage: await resultPlan.storage(), serializer: resultPlan.serializer }));
          } catch (error) {
            if (!(error instanceof SerializationError)) throw error;
            logger.warning(`${error.message}. The run completes, but its result is not persisted`);
          }
        }
        if (reference !== undefined) {
          proposal = { type: "COMPLETED", name: "Completed", data: reference, state_details: {} };
        } else {
          const serialized = serializeResult(attempt.value);
          const details: StateDetails = serialized.untrackable ? { untrackable_result: true } : {};
          proposal = { type: "COMPLETED", name: "Completed", data: serialized.data, state_details: details };
        }
      } else {
        live = undefined;
        failure = attempt.error;
        proposal = failedProposal("flow", attempt);
      }

      const finished = await proposeFinal(target, proposal);
      onState(finished.state);
      if (finished.outcome === "retry") {
        logger.warning(
          `Received non-final state '${finished.state.name ?? finished.state.type}' when proposing final state '${proposal.name ?? proposal.type}' ` +
            `(${describeError(failure)}) and will attempt to run again at ${finished.state.state_details.scheduled_time ?? "once allowed"}`,
        );
        if (flowRun.work_pool_id !== null) await claimRetry(target, onState);
        await sleepUntilScheduled(finished.state);
        runningName = "Retrying";
        continue;
      }
      finalState = finished.state;
      break;
    }
  } finally {
    stopHeartbeats?.();
    untrack();
  }

  await mirror(finalState);
  const hookStore: RunStore = { flow: contextFor(new AbortController()), task: undefined };
  let outcome: FlowRunOutcome<R>;
  if (finalState.type === "COMPLETED") {
    logger.info(`Finished in state ${describeState(finalState)}`);
    const result = live !== undefined ? live.value : ((await readStateResult(finalState, client)) as R);
    await runStore.run(hookStore, () =>
      runHooks(def.options.onCompletion, { flowName: def.name, flowRun, state: finalState, result, error: undefined }, logger, "onCompletion"),
    );
    outcome = { ok: true, result, flowRun, state: finalState };
  } else if (failure instanceof FlowRunSuspendedError) {
    logger.info(`Suspended; the flow runs again from the start once the run is resumed`);
    outcome = { ok: false, error: new FlowRunFailedError(flowRun.id, flowRun.name, finalState, { cause: failure }), flowRun, state: finalState };
  } else {
    if (failure !== undefined) logFailure(logger, failure);
    logger.error(`Finished in state ${describeState(finalState)}`);
    const error = new FlowRunFailedError(flowRun.id, flowRun.name, finalState, { cause: failure });
    await runStore.run(hookStore, () =>
      runHooks(def.options.onFailure, { flowName: def.name, flowRun, state: finalState, result: undefined, error: failure ?? error }, logger, "onFailure"),
    );
    outcome = { ok: false, error, flowRun, state: finalState };
  }
  await session.logs.flush();
  return outcome;
}

type CreatedRun<R> = { reused: FlowRunOutcome<R> } | { reused?: undefined; flowRun: FlowRun; parentTaskRun: TaskRun | undefined };

/**
 * Creates the flow (by name) and the run for a call; a subflow also gets its task run in the
 * parent, and a subflow that completed in an earlier attempt of the parent is reused instead.
 */
async function createRunForCall<A extends unknown[], R>(def: FlowDefinition<A, R>, args: A, call: FlowCall): Promise<CreatedRun<R>> {
  const { session, parent } = call;
  const { client } = session;
  const flow = await client.createFlow({ name: def.name });
  const parameters = toJsonSafe(namedParameters(def.fn, args)) as Record<string, unknown>;

  let parentTaskRun: TaskRun | undefined;
  if (parent !== undefined && call.parentDynamicKey !== undefined) {
    const id = randomUUID();
    parentTaskRun = await client.createTaskRun({
      id,
      name: `${def.name}-${call.parentDynamicKey}`,
      flow_run_id: parent.flowRun.id,
      task_key: call.parentTaskKey,
      dynamic_key: call.parentDynamicKey,
      task_version: def.options.version ?? null,
      tags: def.options.tags ?? [],
      state: { type: "PENDING", name: "Pending" },
    });
    if (parentTaskRun.id !== id) {
      const earlier = await completedSubflowRun(session, parentTaskRun.id);
      if (earlier !== undefined) {
        parent.logger.info(`Subflow run '${earlier.name}' already completed in an earlier attempt; reusing its result`);
        return { reused: { ok: true, result: (await readStateResult(earlier.state as State, client)) as R, flowRun: earlier, state: earlier.state as State } };
      }
    }
  }

  const flowRun: FlowRun = {
    ...(await client.createFlowRun({
      id: randomUUID(),
      flow_id: flow.id,
      flow_version: def.options.version ?? null,
      parameters,
      empirical_policy: flowRunPolicy(def.options),
      tags: def.options.tags ?? [],
      parent_task_run_id: parentTaskRun?.id ?? null,
      state: { type: "PENDING", name: "Pending" },
    })),
  };
  return { flowRun, parentTaskRun };
}

/**
 * A run in a work pool is offered to the pool's workers again as soon as it awaits its retry
 * (it is SCHEDULED). The process about to retry it claims it first, as a worker would: the
 * server accepts exactly one PENDING claim, so the retry runs once. If a worker got there
 * first, or no concurrency slot is free, the retry is left to the workers and this process
 * stops here.
 */
async function claimRetry(target: RunTarget, onState: (state: State) => void): Promise<void> {
  const result = await proposeState(target, { type: "PENDING", name: "Pending" });
  if (result.status === "ACCEPT") {
    if (result.state !== null) onState(result.state);
    return;
  }
  const reason = "reason" in result.details && result.details.reason ? result.details.reason : result.status;
  throw new RunAbortedError("flow", target.id, `its retry is left to its work pool's workers (${reason})`);
}

function logFailure(logger: RunLogger, failure: unknown): void {
  logger.error(`Flow run failed with exception: ${failure instanceof Error ? (failure.stack ?? describeError(failure)) : describeError(failure)}`);
}

/**
 * The parent task run follows its subflow run's state (RUNNING, then the final state, with
 * `child_flow_run_id`), as Prefect's server does in its UpdateSubflowParentTask rule. A server
 * that does this itself is left alone: the parent is read first and only set if it lags.
 */
async function mirrorToParentTaskRun(session: ApiSession, parentTaskRunId: string, childFlowRunId: string, state: State, logger: RunLogger): Promise<void> {
  try {
    const current = await session.client.readTaskRun(parentTaskRunId);
    if (current.state_type === state.type && current.state_name === state.name) return;
    await session.client.setTaskRunState(
      parentTaskRunId,
      {
        type: state.type,
        name: state.name,
        message: state.message,
        data: state.data ?? undefined,
        state_details: { child_flow_run_id: childFlowRunId },
      },
      true,
    );
  } catch (error) {
    logger.warning(`Could not update the subflow's parent task run ${parentTaskRunId}: ${describeError(error)}`);
  }
}

/** A subflow run of this parent task run that completed in an earlier attempt of the parent, if any. */
async function completedSubflowRun(session: ApiSession, parentTaskRunId: string): Promise<FlowRun | undefined> {
  const runs = await session.client.filterFlowRuns({
    flow_runs: { parent_task_run_id: { any_: [parentTaskRunId] }, state: { type: { any_: ["COMPLETED"] } } },
    limit: 1,
  });
  const run = runs[0];
  return run !== undefined && hasResult(run.state) ? run : undefined;
}
