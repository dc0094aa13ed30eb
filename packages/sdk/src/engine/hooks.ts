import type { RunLogger } from "../logger.js";

/**
 * Runs a run's `onCompletion` / `onFailure` hooks, in order, after its final state is set.
 * As in Prefect, a hook that throws is logged on the run and does not change its state.
 */
export async function runHooks<C>(
  hooks: ((context: C) => unknown) | Array<(context: C) => unknown> | undefined,
  context: C,
  logger: RunLogger,
  kind: "onCompletion" | "onFailure",
): Promise<void> {
  if (hooks === undefined) return;
  for (const hook of Array.isArray(hooks) ? hooks : [hooks]) {
    const name = hook.name || "anonymous";
    try {
      logger.info(`Running hook '${name}' (${kind})`);
      await hook(context);
    } catch (error) {
      logger.error(`An error was encountered while running hook '${name}': ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    }
  }
}
