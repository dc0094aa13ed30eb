import { SLOT_HOLDING_STATE_TYPES } from "@baton/core";
import { fromJson } from "../../db/json.js";
import { lockRow, reject, type OrchestrationRule } from "../context.js";
import { makeState } from "../state-factory.js";

/** How long a run refused a slot waits before it is offered again (Prefect's default, 30 s). */
export const AWAITING_SLOT_DELAY_SECONDS = 30;

/**
 * A deployment's `concurrency_limit` caps how many of its runs are active (Pending, Running,
 * Cancelling) at once. A claim (SCHEDULED -> PENDING) beyond the limit is refused according
 * to the deployment's collision strategy, as Prefect's SecureFlowConcurrencySlots does:
 * - ENQUEUE (the default): the run goes back to Scheduled "AwaitingConcurrencySlot", due
 *   AWAITING_SLOT_DELAY_SECONDS later, so workers and `serve()` offer it again then;
 * - CANCEL_NEW: the run is Cancelled.
 * The deployment row is locked before counting, so concurrent claims are judged one after
 * another and the limit holds at every instant. Deployments without a limit take no lock
 * (their runs still take the transactional path: the limit is only known once read).
 */
export const enforceDeploymentConcurrency: OrchestrationRule = {
  name: "SecureFlowConcurrencySlots",
  from: ["SCHEDULED"],
  to: ["PENDING"],
  // Only runs that have a deployment can be limited by it; others keep the lock-free path.
  serialized: (ctx) => ctx.run.kind === "flow_run" && ctx.run.row.deployment_id !== null,
  async before(ctx) {
    if (ctx.run.kind !== "flow_run" || ctx.run.row.deployment_id === null) return;
    const deploymentId = ctx.run.row.deployment_id;
    const deployment = await ctx.trx
      .selectFrom("deployment")
      .select(["name", "concurrency_limit", "concurrency_options"])
      .where("id", "=", deploymentId)
      .executeTakeFirst();
    if (!deployment || deployment.concurrency_limit === null) return;
    await lockRow(ctx, "deployment", deploymentId);
    const { n } = await ctx.trx
      .selectFrom("flow_run")
      .select((eb) => eb.fn.countAll<number>().as("n"))
      .where("deployment_id", "=", deploymentId)
      .where("state_type", "in", SLOT_HOLDING_STATE_TYPES)
      .where("id", "<>", ctx.run.row.id)
      .executeTakeFirstOrThrow();
    const active = Number(n);
    if (active < deployment.concurrency_limit) return;
    const strategy = fromJson<{ collision_strategy?: string } | null>(deployment.concurrency_options, null)?.collision_strategy ?? "ENQUEUE";
    const reason = `Deployment '${deployment.name}' is at its concurrency limit (${active} of ${deployment.concurrency_limit} runs active).`;
    if (strategy === "CANCEL_NEW") {
      return reject(reason, makeState("CANCELLED", "Cancelled", ctx.now, { message: `${reason} The run was cancelled (collision strategy CANCEL_NEW).` }));
    }
    const retryAt = new Date(ctx.now.getTime() + AWAITING_SLOT_DELAY_SECONDS * 1000).toISOString();
    return reject(
      reason,
      makeState("SCHEDULED", "AwaitingConcurrencySlot", ctx.now, {
        message: `${reason} The run waits for a slot.`,
        details: { scheduled_time: retryAt },
      }),
    );
  },
};
