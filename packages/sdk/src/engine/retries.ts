import { setTimeout as delay } from "node:timers/promises";
import type { State } from "@baton/core";

/**
 * Retries are decided by the server, as in Prefect: the engine proposes FAILED, and while the
 * run has retries left the server answers REJECT with a SCHEDULED "AwaitingRetry" state whose
 * `scheduled_time` is now + the retry delay (with jitter, for tasks). The engine sleeps until
 * then and proposes RUNNING "Retrying". These helpers do the waiting.
 */

/** Shortest pause between two proposals, so a server that answers WAIT 0 is not hammered. */
export const MIN_PAUSE_MS = 100;

export function sleep(ms: number): Promise<void> {
  return delay(Math.max(0, ms));
}

/** Sleeps until a SCHEDULED state's `scheduled_time` (no time if it has none or it is past). */
export async function sleepUntilScheduled(state: Pick<State, "state_details">, now: () => number = Date.now): Promise<void> {
  const at = state.state_details.scheduled_time;
  if (at == null) return;
  const ms = Date.parse(at) - now();
  if (ms > 0) await sleep(ms);
}

/** Sleeps for a WAIT answer's `delay_seconds`. */
export function sleepForWait(delaySeconds: number): Promise<void> {
  return sleep(Math.max(delaySeconds * 1000, MIN_PAUSE_MS));
}

/** True for the SCHEDULED state the server sets in answer to a FAILED proposal with retries left. */
export function isAwaitingRetry(state: Pick<State, "type" | "name"> | null | undefined): boolean {
  return state?.type === "SCHEDULED";
}
