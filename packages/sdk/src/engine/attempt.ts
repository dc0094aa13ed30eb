import type { FlowRun, State, StateCreate, TaskRun } from "@baton/core";
import { TimeoutError, type RunKind } from "../errors.js";
import { describeError, errorData } from "../results/serializer.js";
import { withTimeout, type Abortable } from "./timeout.js";

/** How one attempt of a run's function went. */
export type AttemptOutcome<R> = { ok: true; value: R } | { ok: false; error: unknown; timedOut: boolean };

/**
 * Runs one attempt: the function (with its timeout), then waits for the task runs it submitted
 * and left running, so that a run never finishes before its children. After a timeout the
 * children are not waited for: the attempt's signal is aborted and the run fails at once.
 */
export async function runAttempt<R>(
  body: () => R | Promise<R>,
  options: {
    run: { kind: RunKind; id: string };
    timeoutSeconds: number | undefined;
    controller: Abortable;
    pending: Set<Promise<unknown>>;
  },
): Promise<AttemptOutcome<R>> {
  try {
    // Without a timeout the body is awaited as it is: a synchronous task costs no promise
    // machinery beyond this await (a 5,000-task map makes every promise count).
    const value = options.timeoutSeconds === undefined ? await body() : await withTimeout(async () => body(), options.timeoutSeconds, options.controller, options.run);
    if (options.pending.size > 0) await settle(options.pending);
    return { ok: true, value };
  } catch (error) {
    // Only this run's own timeout; a TimeoutError of an enclosing run is an ordinary failure here.
    const timedOut = error instanceof TimeoutError && error.kind === options.run.kind && error.runId === options.run.id;
    if (!timedOut && options.pending.size > 0) await settle(options.pending);
    return { ok: false, error, timedOut };
  }
}

async function settle(pending: Set<Promise<unknown>>): Promise<void> {
  while (pending.size > 0) {
    const batch = [...pending];
    await Promise.allSettled(batch);
    for (const p of batch) pending.delete(p);
  }
}

/** The FAILED state proposed for a failed attempt: "TimedOut" for a timeout, else "Failed". */
export function failedProposal(kind: RunKind, outcome: { error: unknown; timedOut: boolean }): StateCreate {
  if (outcome.timedOut) {
    return { type: "FAILED", name: "TimedOut", message: describeError(outcome.error).replace(/^TimeoutError: /, ""), data: errorData(outcome.error) };
  }
  return {
    type: "FAILED",
    name: "Failed",
    message: `${kind === "flow" ? "Flow" : "Task"} run encountered an exception: ${describeError(outcome.error)}`,
    data: errorData(outcome.error),
  };
}

/** Keeps the local copy of a run in step with a state the server set. */
export function applyState(run: FlowRun | TaskRun, state: State): void {
  run.state = state;
  run.state_id = state.id;
  run.state_type = state.type;
  run.state_name = state.name;
}
