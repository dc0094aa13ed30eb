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

/**
 * Sleeps for a WAIT answer's `delay_seconds`. The contract gives that delay in whole seconds
 * (rounded up), which would start a prefetched run up to a second late; a run that waits for
 * its own `scheduledTime` knows that time to the millisecond and sleeps just until then.
 */
export function sleepForWait(delaySeconds: number, scheduledTime?: string | null, now: () => number = Date.now): Promise<void> {
  const delayMs = delaySeconds * 1000;
  const untilScheduled = scheduledTime == null ? NaN : Date.parse(scheduledTime) - now();
  if (untilScheduled >= 0 && untilScheduled < delayMs) return sleep(untilScheduled + SCHEDULED_TIME_MARGIN_MS);
  return sleep(Math.max(delayMs, MIN_PAUSE_MS));
}

/** Past the scheduled time before proposing again, so the server's clock has passed it too. */
const SCHEDULED_TIME_MARGIN_MS = 5;

/** True for the SCHEDULED state the server sets in answer to a FAILED proposal with retries left. */
export function isAwaitingRetry(state: Pick<State, "type" | "name"> | null | undefined): boolean {
  return state?.type === "SCHEDULED";
}
