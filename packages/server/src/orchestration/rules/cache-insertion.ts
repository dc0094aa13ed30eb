import type { OrchestrationRule } from "../context.js";
import { newId } from "../../db/json.js";

/** A task run that completes with a cache key stores its state under that key until it expires. */
export const cacheInsertion: OrchestrationRule = {
  name: "CacheInsertion",
  from: "any",
  to: ["COMPLETED"],
  async after({ run, trx, now }, written) {
    if (run.kind !== "task_run" || written.name === "Cached") return;
    const key = written.state_details.cache_key;
    if (!key) return;
    await trx
      .insertInto("task_run_state_cache")
      .values({
        id: newId(),
        created: now.toISOString(),
        cache_key: key,
        cache_expiration: written.state_details.cache_expiration ?? null,
        task_run_state_id: written.id,
      })
      .execute();
  },
};
