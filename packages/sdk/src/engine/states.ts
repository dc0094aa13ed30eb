import { randomUUID } from "node:crypto";
import {
  assertNever,
  OrchestrationResult,
  type State,
  type StateCreate,
} from "@baton/core";
import { isTransient, RETRY_PAUSES_MS, type BatonClient } from "../client.js";
import { RunAbortedError, type RunKind } from "../errors.js";
import { sleep, sleepForWait, sleepUntilScheduled } from "./retries.js";

/**
 * State proposals, and what the engine does with each answer of the server's orchestration:
 *
 * - ACCEPT: the proposed state is now the run's state.
 * - WAIT: try again after `details.delay_seconds` (e.g. RUNNING proposed before a SCHEDULED
 *   state's time).
 * - REJECT: the server set another state, returned in the answer. Proposing RUNNING, a
 *   COMPLETED answer (a cache hit "Cached", or a run completed earlier) ends the run with that
 *   state's result; a SCHEDULED one is waited for. Proposing FAILED, a SCHEDULED answer is the
 *   "AwaitingRetry" that means: run again.
 * - ABORT: stop at once (`RunAbortedError`).
 *
 * Every proposal carries a fresh `state_details.transition_id`. A proposal whose HTTP request
 * failed in flight is sent again with the same id; if the first one had landed, the server
 * REJECTs the duplicate with the run's current state, which carries our id and the proposed
 * type, and that is taken as the ACCEPT it was.
 */
export interface RunTarget {
  readonly kind: RunKind;
  readonly id: string;
  readonly client: BatonClient;
}


export async function proposeState(target: RunTarget, proposal: StateCreate, force = false): Promise<OrchestrationResult> {
  const transitionId = randomUUID();
  const state: StateCreate = {
    ...proposal,
    state_details: { ...proposal.state_details, transition_id: transitionId },
  };
  let raw: unknown;
  let resent = false;
  for (let attempt = 0; ; attempt++) {
    resent = attempt > 0;
    try {
      raw =
        target.kind === "flow"
          ? await target.client.setFlowRunState(target.id, state, force)
          : await target.client.setTaskRunState(target.id, state, force);
      break;
    } catch (error) {
      const pause = RETRY_PAUSES_MS[attempt];
      if (pause === undefined || !isTransient(error)) throw error;
      await sleep(pause);
    }
  }
  const parsed = OrchestrationResult.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`The server's answer to a ${proposal.type} proposal for ${target.kind} run ${target.id} is malformed: ${parsed.error.message}`);
  }
  const result = parsed.data;
  // Only a re-sent proposal can be a duplicate; and rules that answer with a new state (AwaitingRetry,
  // Cached) may copy our state_details, transition id included, so the type must match too.
  if (resent && result.status === "REJECT" && result.state?.type === proposal.type && result.state.state_details.transition_id === transitionId) {
    return { ...result, status: "ACCEPT", details: { type: "accept_details" } };
  }
  return result;
}

function reasonOf(result: OrchestrationResult): string {
  return "reason" in result.details && result.details.reason ? result.details.reason : "no reason given";
}

/** The state the run is in after an ACCEPT: the server's copy, or the proposal if it sent none. */
function acceptedState(result: OrchestrationResult, proposal: StateCreate): State {
  return (
    result.state ?? {
      id: randomUUID(),
      type: proposal.type,
      name: proposal.name ?? null,
      timestamp: new Date().toISOString(),
      message: proposal.message ?? null,
      data: proposal.data ?? null,
      state_details: proposal.state_details ?? {},
    }
  );
}

export type EnterResult =
  /** The run is RUNNING: execute the function. */
  | { outcome: "run"; state: State }
  /** The server ended the run without running it (Cached, completed earlier, or terminal). */
  | { outcome: "done"; state: State };

/**
 * Proposes RUNNING until the run may start. `name` is "Running", or "Retrying" after an
 * AwaitingRetry. `onState` sees each state the server sets along the way.
 */
export async function enterRunning(
  target: RunTarget,
  options: {
    name: string;
    cacheKey?: string | undefined;
    onState?: (state: State) => void;
    /** When the run is scheduled to start, if known: a WAIT for it ends right then. */
    scheduledTime?: () => string | null | undefined;
  },
): Promise<EnterResult> {
  for (;;) {
    const proposal: StateCreate = {
      type: "RUNNING",
      name: options.name,
      state_details: options.cacheKey === undefined ? {} : { cache_key: options.cacheKey },
    };
    const result = await proposeState(target, proposal);
    switch (result.status) {
      case "ACCEPT": {
        const state = acceptedState(result, proposal);
        options.onState?.(state);
        return { outcome: "run", state };
      }
      case "WAIT":
        await sleepForWait(result.details.type === "wait_details" ? result.details.delay_seconds : 0, options.scheduledTime?.());
        continue;
      case "ABORT":
        throw new RunAbortedError(target.kind, target.id, reasonOf(result));
      case "REJECT": {
        const state = result.state;
        if (state === null) throw new RunAbortedError(target.kind, target.id, `RUNNING was rejected: ${reasonOf(result)}`);
        options.onState?.(state);
        switch (state.type) {
          case "COMPLETED":
          case "FAILED":
          case "CRASHED":
          case "CANCELLED":
            return { outcome: "done", state };
          case "SCHEDULED":
            await sleepUntilScheduled(state);
            continue;
          case "PENDING":
            await sleepForWait(1);
            continue;
          case "RUNNING":
          case "CANCELLING":
          case "PAUSED":
            throw new RunAbortedError(target.kind, target.id, `RUNNING was rejected; the run is ${state.name ?? state.type}: ${reasonOf(result)}`);
          default:
            return assertNever(state.type);
        }
      }
      default:
        return assertNever(result.status);
    }
  }
}

export type FinishResult =
  /** The run's final state (normally the proposal, as accepted). */
  | { outcome: "final"; state: State }
  /** The server scheduled another attempt (AwaitingRetry). */
  | { outcome: "retry"; state: State };

/** Proposes a final state (COMPLETED or FAILED) and reports whether the server wants a retry. */
export async function proposeFinal(target: RunTarget, proposal: StateCreate): Promise<FinishResult> {
  for (;;) {
    const result = await proposeState(target, proposal);
    switch (result.status) {
      case "ACCEPT":
        return { outcome: "final", state: acceptedState(result, proposal) };
      case "WAIT":
        await sleepForWait(result.details.type === "wait_details" ? result.details.delay_seconds : 0);
        continue;
      case "ABORT":
        throw new RunAbortedError(target.kind, target.id, reasonOf(result));
      case "REJECT": {
        const state = result.state;
        if (state === null) throw new RunAbortedError(target.kind, target.id, `${proposal.type} was rejected: ${reasonOf(result)}`);
        if (state.type === "SCHEDULED") return { outcome: "retry", state };
        return { outcome: "final", state };
      }
      default:
        return assertNever(result.status);
    }
  }
}

/** "Completed()" / "Failed('message')", as Prefect prints states in its logs. */
export function describeState(state: Pick<State, "type" | "name" | "message">): string {
  const name = state.name ?? state.type;
  return state.message ? `${name}('${state.message}')` : `${name}()`;
}
