import { proposeState, type RunTarget } from "./states.js";

/**
 * A script stopped by SIGINT or SIGTERM while runs are RUNNING would leave them RUNNING
 * forever. As Prefect does, the engine then proposes CRASHED for each of them before the
 * process goes on to die of the signal. The handlers are installed only while some run is
 * active (or `serve()` is serving), so the process's usual signal behaviour is untouched otherwise.
 */
interface ActiveRun {
  target: RunTarget;
  /** How to report this run crashed, when not by a CRASHED proposal (a task run orchestrated in-process). */
  crash: ((message: string) => Promise<unknown>) | undefined;
}
/** A set of entries, not a map by `kind:id`: a run is tracked once, and no key is built per task run. */
const active = new Set<ActiveRun>();
const SIGNALS = ["SIGINT", "SIGTERM"] as const;
/** How long reporting the crash may hold up the exit. */
const REPORT_TIMEOUT_MS = 3000;

/**
 * Handlers that take the next SIGINT/SIGTERM instead (`serve()` stops claiming runs and lets
 * those in progress finish); a signal after that one crashes the runs as above.
 */
const drainHandlers = new Set<(signal: NodeJS.Signals) => void>();
let installed = false;

function onSignal(signal: NodeJS.Signals): void {
  if (drainHandlers.size > 0) {
    const handlers = [...drainHandlers];
    drainHandlers.clear();
    if (active.size === 0) uninstall();
    for (const handler of handlers) handler(signal);
    return;
  }
  const runs = [...active];
  active.clear();
  uninstall();
  const message = `Execution was interrupted by ${signal}`;
  const reports = Promise.allSettled(runs.map((run) => (run.crash ? run.crash(message) : proposeState(run.target, { type: "CRASHED", name: "Crashed", message }))));
  const deadline = new Promise((resolve) => setTimeout(resolve, REPORT_TIMEOUT_MS).unref());
  void Promise.race([reports, deadline]).then(() => {
    process.stderr.write(`baton: ${message}; ${runs.length} run(s) marked CRASHED\n`);
    process.kill(process.pid, signal);
  });
}

function install(): void {
  if (installed) return;
  installed = true;
  for (const s of SIGNALS) process.on(s, onSignal);
}

function uninstall(): void {
  if (!installed) return;
  installed = false;
  for (const s of SIGNALS) process.off(s, onSignal);
}

/** Marks a run RUNNING in this process until the returned function is called. */
export function trackRunning(target: RunTarget, crash?: (message: string) => Promise<unknown>): () => void {
  install();
  const entry: ActiveRun = { target, crash };
  active.add(entry);
  return () => {
    if (active.delete(entry) && active.size === 0 && drainHandlers.size === 0) uninstall();
  };
}

/**
 * Hands the next SIGINT or SIGTERM to `handler` rather than crashing the runs in progress; a
 * second signal crashes them as usual. The returned function takes the handler back.
 */
export function drainOnSignal(handler: (signal: NodeJS.Signals) => void): () => void {
  drainHandlers.add(handler);
  install();
  return () => {
    if (drainHandlers.delete(handler) && drainHandlers.size === 0 && active.size === 0) uninstall();
  };
}
