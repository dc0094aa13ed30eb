import { performance } from "node:perf_hooks";

/**
 * Task runs orchestrated in this process never wait for the server, so a `.map()` of thousands
 * of quick tasks would run them all in one stretch of promise callbacks, during which Node does
 * no I/O: the batches of state events they report would only leave once every task is done,
 * and the server would sit idle until then. A task run about to start calls `yieldIfBusy()`:
 * once the current stretch has lasted SLICE_MS, it waits in line for a later turn of the event
 * loop (after I/O), so reports go out, and answers come in, while later tasks run. Waiting
 * runs are let go one at a time, each only while its turn's slice lasts, so every run resumes
 * once (a promise per turn shared by all of them would just move the whole stretch to the next turn).
 */
const SLICE_MS = 5;

let sliceStarted: number | undefined;
let turnScheduled = false;
/** Runs waiting for a turn, first come first served (`head` is the next to go). */
let waiting: Array<() => void> = [];
let head = 0;

/** Undefined while the current stretch is short (go on); else a promise to await before starting. */
export function yieldIfBusy(): Promise<void> | undefined {
  if (head === waiting.length && inSlice()) return undefined;
  return new Promise<void>((resolve) => {
    waiting.push(() => {
      resolve();
      // After this run's first steps, the next in line goes if the slice has time left.
      queueMicrotask(releaseNext);
    });
    scheduleTurn();
  });
}

/** Whether the current stretch may go on; the first call of a stretch starts its clock. */
function inSlice(): boolean {
  const now = performance.now();
  if (sliceStarted === undefined) {
    sliceStarted = now;
    // The stretch ends with this turn of the event loop, however it ends.
    setImmediate(endSlice);
    return true;
  }
  return now - sliceStarted < SLICE_MS;
}

function endSlice(): void {
  sliceStarted = undefined;
}

function scheduleTurn(): void {
  if (turnScheduled) return;
  turnScheduled = true;
  setImmediate(() => {
    turnScheduled = false;
    sliceStarted = undefined;
    releaseNext();
  });
}

function releaseNext(): void {
  if (head === waiting.length) return;
  if (!inSlice()) {
    scheduleTurn();
    return;
  }
  const next = waiting[head]!;
  head++;
  if (head === waiting.length) {
    waiting = [];
    head = 0;
  }
  next();
}
