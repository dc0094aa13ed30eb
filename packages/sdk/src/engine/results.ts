import type { CachePolicy, CachePolicyContext } from "../cache/policies.js";
import { CacheKeyFnPolicy, CachePolicies, isNoCache, toCachePolicy } from "../cache/policies.js";
import type { BatonClient } from "../client.js";
import type { FlowRunContext } from "../context.js";
import type { FlowOptions } from "../flow.js";
import { defaultResultStorage } from "../results/resolve.js";
import { resolveSerializer, type Serializer } from "../results/serializers.js";
import type { ResultStorage } from "../results/storage.js";
import { storageKeyTemplate, type StorageKeyTemplate } from "../results/storage-key.js";
import { currentSettings } from "../settings.js";
import type { TaskOptions } from "../task.js";
import type { Transaction } from "../transactions.js";

/**
 * Whether and where a run's result is persisted, and how a task call is cached, decided as
 * Prefect 3 decides them:
 *
 * - persist: the run's own `persistResult`; else `true` for a task that names a cache
 *   policy, `cacheKeyFn`, `resultStorage` or `resultSerializer`; else the flow's
 *   `persistResult`; else `true` inside a transaction with a key (its re-run needs the
 *   results); else `BATON_RESULTS_PERSIST_BY_DEFAULT`.
 * - caching (tasks): only when persisted; `resultStorageKey` (its rendered key is the cache key,
 *   as Prefect's transaction key), else `cacheKeyFn`, else `cachePolicy`, else DEFAULT
 *   (INPUTS + TASK_SOURCE + RUN_ID). A task with `persistResult: false` is never cached.
 * - storage and serializer: the run's, else the flow's, else the defaults (results/resolve.ts,
 *   `BATON_RESULTS_DEFAULT_SERIALIZER`).
 */
export interface ResultPlan {
  persist: boolean;
  serializer: Serializer;
  storage: () => Promise<ResultStorage>;
  /** Undefined: the call is not cached by a policy (see `storageKey`). */
  cachePolicy: CachePolicy | undefined;
  /** `resultStorageKey`: the record's key, rendered per call; it takes the place of the cache policy. */
  storageKey: StorageKeyTemplate | undefined;
  /** Whether a record at the key is looked up before running (a cache hit); false for `resultStorageKey` with `cachePolicy: NONE`. */
  lookUp: boolean;
  refreshCache: boolean;
  expirationSeconds: number | undefined;
  /** Why an explicit cache option is ignored, to log once per call. */
  ignoredCache: string | undefined;
}

/** What a flow run passes to its tasks (FlowRunContext.results). */
export interface FlowResultOptions {
  persistResult: boolean | undefined;
  resultStorage: ResultStorage | undefined;
  resultSerializer: string | Serializer | undefined;
}

export function flowResultOptions(options: FlowOptions): FlowResultOptions {
  return { persistResult: options.persistResult, resultStorage: options.resultStorage, resultSerializer: options.resultSerializer };
}

export function taskResultPlan(
  options: TaskOptions<never>,
  flowCtx: FlowRunContext | undefined,
  txn: Transaction | undefined,
  client: () => BatonClient | undefined,
): ResultPlan {
  const settings = flowCtx?.settings ?? currentSettings();
  const flow = flowCtx?.results;
  const explicitCache = options.cacheKeyFn !== undefined || (options.cachePolicy !== undefined && !isNoCache(toCachePolicy(options.cachePolicy)));
  const persist =
    options.persistResult ??
    (explicitCache || options.resultStorageKey !== undefined || options.resultStorage !== undefined || options.resultSerializer !== undefined ? true : undefined) ??
    flow?.persistResult ??
    (txn?.key !== undefined ? true : undefined) ??
    settings.resultsPersistByDefault;
  let cachePolicy: CachePolicy | undefined;
  let ignoredCache: string | undefined;
  const storageKey = persist && options.resultStorageKey !== undefined ? storageKeyTemplate(options.resultStorageKey, "task.resultStorageKey") : undefined;
  if (storageKey !== undefined) {
    // As in Prefect, the storage key wins over any cache policy; NONE still means "never read it back".
    cachePolicy = undefined;
  } else if (persist) {
    const policy =
      options.cacheKeyFn !== undefined
        ? new CacheKeyFnPolicy(options.cacheKeyFn as never)
        : options.cachePolicy !== undefined
          ? toCachePolicy(options.cachePolicy)
          : CachePolicies.DEFAULT;
    cachePolicy = isNoCache(policy) ? undefined : policy;
  } else if (explicitCache) {
    ignoredCache = "its cache policy is ignored because persistResult is false (a cached result must be persisted)";
  }
  const storageOption = options.resultStorage ?? flow?.resultStorage;
  return {
    persist,
    serializer: resolveSerializer(options.resultSerializer ?? flow?.resultSerializer ?? settings.resultsDefaultSerializer),
    storage: async () => storageOption ?? (txn !== undefined ? await txn.resolveStorage() : await defaultResultStorage(client())),
    cachePolicy,
    storageKey,
    lookUp: storageKey !== undefined ? !(options.cachePolicy !== undefined && isNoCache(toCachePolicy(options.cachePolicy))) : cachePolicy !== undefined,
    refreshCache: options.refreshCache ?? settings.tasksRefreshCache,
    expirationSeconds: options.cacheExpiration ?? options.cacheExpirationSeconds,
    ignoredCache,
  };
}

export function flowResultPlan(options: FlowOptions, client: () => BatonClient | undefined): Pick<ResultPlan, "persist" | "serializer" | "storage"> {
  const settings = currentSettings();
  return {
    persist: options.persistResult ?? (options.resultStorage !== undefined || options.resultSerializer !== undefined ? true : settings.resultsPersistByDefault),
    serializer: resolveSerializer(options.resultSerializer ?? settings.resultsDefaultSerializer),
    storage: async () => options.resultStorage ?? (await defaultResultStorage(client())),
  };
}

/** The call's cache key by the plan's policy; a policy that throws means "not cached" (logged). */
export function cacheKeyFor(plan: ResultPlan, context: CachePolicyContext, warn: (message: string) => void): string | undefined {
  if (plan.cachePolicy === undefined) return undefined;
  try {
    const key = plan.cachePolicy.computeKey(context);
    if (key !== undefined && (typeof key !== "string" || key === "")) {
      warn(`The cache policy ${plan.cachePolicy.name} gave a key that is not a non-empty string (${JSON.stringify(key)}), so this run is not cached`);
      return undefined;
    }
    return key;
  } catch (error) {
    warn(`The cache policy ${plan.cachePolicy.name} failed, so this run is not cached: ${error instanceof Error ? error.message : String(error)}`);
    return undefined;
  }
}

export function expirationFrom(seconds: number | undefined, now = Date.now()): string | null {
  return seconds === undefined ? null : new Date(now + seconds * 1000).toISOString();
}
