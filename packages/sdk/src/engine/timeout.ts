import { TimeoutError, type RunKind } from "../errors.js";

/** What a timeout aborts: an AbortController, or a task attempt's LazyAbort (task-engine.ts). */
export interface Abortable {
  abort(reason?: unknown): void;
}

/**
 * Runs one attempt, failing it with `TimeoutError` after `timeoutSeconds`. JavaScript cannot
 * stop a running function, so on timeout the attempt's `AbortController` is aborted (code that
 * passes `getRunContext().signal` on, e.g. to `fetch`, stops) and the run moves on; whatever
 * the function still does later is ignored.
 */
export async function withTimeout<T>(
  attempt: () => Promise<T>,
  timeoutSeconds: number | undefined,
  controller: Abortable,
  run: { kind: RunKind; id: string },
): Promise<T> {
  const running = attempt();
  if (timeoutSeconds === undefined) return running;
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      const error = new TimeoutError(run.kind, run.id, timeoutSeconds);
      controller.abort(error);
      reject(error);
    }, timeoutSeconds * 1000);
  });
  // The losing attempt may reject later; that must not surface as an unhandled rejection.
  running.catch(() => undefined);
  try {
    return await Promise.race([running, expired]);
  } finally {
    clearTimeout(timer);
  }
}
