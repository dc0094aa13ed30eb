import { createHash } from "node:crypto";
import { toJsonSafe } from "../engine/parameters.js";

/** What a task's `cacheKeyFn` receives. */
export interface CacheKeyContext<A extends unknown[] = unknown[]> {
  /** The task's name and stable key (the run's `task_key`). */
  taskName: string;
  taskKey: string;
  /** The call's arguments (futures already resolved to their results)... */
  args: A;
  /** ...and the same arguments by parameter name. */
  parameters: Record<string, unknown>;
  /** The flow run the task runs in, if any. */
  flowRunId: string | undefined;
}

/**
 * A cache key from the task and its inputs: two calls of the same task with equal arguments
 * share a key (Prefect's `task_input_hash`). Object keys are sorted first, so `{a, b}` and
 * `{b, a}` hash alike.
 *
 * @example
 * import { task, taskInputHash } from "@baton/sdk";
 * const fetchPage = task({ cacheKeyFn: taskInputHash, cacheExpirationSeconds: 3600 }, async function fetchPage(url: string) {
 *   return (await fetch(url)).text();
 * });
 */
export function taskInputHash(context: CacheKeyContext): string {
  return hashKey(context.taskKey, stableStringify(context.args));
}

/** Hex SHA-256 of the parts, joined unambiguously. */
export function hashKey(...parts: string[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(`${p.length}:${p}`);
  return h.digest("hex");
}

/** JSON with object keys sorted at every depth; values JSON cannot carry are described. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(sortKeys(toJsonSafe(value)));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object") {
    const obj = value as Record<string, unknown>;
    return Object.fromEntries(
      Object.keys(obj)
        .sort()
        .map((k) => [k, sortKeys(obj[k])]),
    );
  }
  return value;
}

/** A stable `task_key` from a task's name: the name plus a short hash, as Prefect's keys look. */
export function taskKeyFor(name: string): string {
  return `${name}-${createHash("sha256").update(name).digest("hex").slice(0, 8)}`;
}
