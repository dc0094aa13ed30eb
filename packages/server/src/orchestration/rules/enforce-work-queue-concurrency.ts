import type { OrchestrationRule } from "../context.js";
import { refuseWhenFull } from "./enforce-work-pool-concurrency.js";

/**
 * The queue's share of a claim's check: a claim (SCHEDULED -> PENDING) is refused while the
 * run's work queue has as many slot-holding runs as its limit. Runs after the pool rule, so
 * a claim locks the pool first and the queue second, always in that order.
 */
export const enforceWorkQueueConcurrency: OrchestrationRule = {
  name: "EnforceWorkQueueConcurrency",
  from: ["SCHEDULED"],
  to: ["PENDING"],
  // Only runs that have a work queue can be limited by it; others keep the lock-free path.
  serialized: (ctx) => ctx.run.kind === "flow_run" && ctx.run.row.work_queue_id !== null,
  async before(ctx) {
    if (ctx.run.kind !== "flow_run" || ctx.run.row.work_queue_id === null) return;
    return refuseWhenFull(ctx, "work_queue", ctx.run.row.work_queue_id);
  },
};
