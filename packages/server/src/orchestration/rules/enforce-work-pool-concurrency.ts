import { SLOT_HOLDING_STATE_TYPES } from "@baton/core";
import { lockRow, type OrchestrationContext, type OrchestrationRule, type RuleDecision } from "../context.js";

/**
 * A worker claims a Scheduled run by proposing PENDING. The claim is refused (ABORT, which a
 * worker reads as "not yours, move on") while the run's pool already has as many runs holding
 * a slot (Pending, Running, Cancelling) as its concurrency limit allows. The pool row is
 * locked before counting, so concurrent claims in one pool are judged one after another and
 * the limit holds at every instant. The run stays Scheduled for a later poll. A paused pool
 * does not refuse claims: pausing stops polls from offering runs, not workers finishing theirs.
 */
export const enforceWorkPoolConcurrency: OrchestrationRule = {
  name: "EnforceWorkPoolConcurrency",
  from: ["SCHEDULED"],
  to: ["PENDING"],
  // Only runs that have a work pool can be limited by it; others keep the lock-free path.
  serialized: (ctx) => ctx.run.kind === "flow_run" && ctx.run.row.work_pool_id !== null,
  async before(ctx) {
    if (ctx.run.kind !== "flow_run" || ctx.run.row.work_pool_id === null) return;
    return refuseWhenFull(ctx, "work_pool", ctx.run.row.work_pool_id);
  },
};

/**
 * Shared by the pool and queue rules: reads the limit, and only when there is one locks the
 * row and counts the runs holding its slots. Unlimited pools and queues take no lock.
 */
export async function refuseWhenFull(ctx: OrchestrationContext, table: "work_pool" | "work_queue", id: string): Promise<RuleDecision | void> {
  const target = await ctx.trx.selectFrom(table).select(["name", "concurrency_limit"]).where("id", "=", id).executeTakeFirst();
  if (!target || target.concurrency_limit === null) return;
  await lockRow(ctx, table, id);
  const column = table === "work_pool" ? "work_pool_id" : "work_queue_id";
  const { n } = await ctx.trx
    .selectFrom("flow_run")
    .select((eb) => eb.fn.countAll<number>().as("n"))
    .where(column, "=", id)
    .where("state_type", "in", SLOT_HOLDING_STATE_TYPES)
    .executeTakeFirstOrThrow();
  const active = Number(n);
  if (active < target.concurrency_limit) return;
  const what = table === "work_pool" ? "Work pool" : "Work queue";
  return {
    status: "ABORT",
    reason: `${what} '${target.name}' is at its concurrency limit (${active} of ${target.concurrency_limit} slots in use); the run stays scheduled.`,
  };
}
