import type { OrchestrationRule } from "../context.js";
import { reject } from "../context.js";
import { readState } from "../../db/queries/states.js";
import { makeState } from "../state-factory.js";

/**
 * A task run about to run whose cache key has a valid cached COMPLETED state is given that
 * state (named "Cached") instead of running again.
 */
export const cacheRetrieval: OrchestrationRule = {
  name: "CacheRetrieval",
  from: "any",
  to: ["RUNNING"],
  async before({ run, proposed, trx, now }) {
    if (run.kind !== "task_run") return;
    const key = proposed.state_details.cache_key;
    if (!key || proposed.state_details.refresh_cache) return;
    const nowIso = now.toISOString();
    const entry = await trx
      .selectFrom("task_run_state_cache")
      .select(["task_run_state_id", "cache_expiration"])
      .where("cache_key", "=", key)
      .where((eb) => eb.or([eb("cache_expiration", "is", null), eb("cache_expiration", ">", nowIso)]))
      .orderBy("created", "desc")
      .executeTakeFirst();
    if (!entry) return;
    const cached = await readState(trx, "task_run", entry.task_run_state_id);
    if (!cached) return;
    const state = makeState("COMPLETED", "Cached", now, {
      message: cached.message,
      data: cached.data,
      details: { ...proposed.state_details, cache_key: key, cache_expiration: entry.cache_expiration },
    });
    return reject("A valid cached result exists for this cache key.", state);
  },
};
