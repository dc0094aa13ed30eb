import { fromJson } from "../../db/json.js";
import { takeTagSlots } from "../../db/queries/tag-concurrency-limits.js";
import type { OrchestrationContext, OrchestrationRule } from "../context.js";
import { orchestrationSettings } from "../settings.js";

export function taskRunTags(ctx: OrchestrationContext): string[] {
  return ctx.run.kind === "task_run" ? fromJson<string[]>(ctx.run.row.tags, []) : [];
}

/**
 * Tag-based task concurrency: a task run may only start RUNNING while every one of its tags
 * that has a limit has a free slot; it takes one of each, all or none. A full tag answers
 * WAIT (the engine asks again after the delay), a limit of 0 ABORTs, since such a run could
 * never start. Runs last among the rules that judge a start, so a slot is only taken by a
 * start that is then written.
 */
export const secureTaskConcurrencySlots: OrchestrationRule = {
  name: "SecureTaskConcurrencySlots",
  from: "any",
  to: ["RUNNING"],
  appliesTo: (ctx) => taskRunTags(ctx).length > 0,
  serialized: true,
  async before(ctx) {
    const decision = await takeTagSlots(ctx.trx, ctx.dialect === "postgres", taskRunTags(ctx), ctx.run.row.id);
    if (decision.ok) {
      // The run starts when it got its slots, which may be after it asked (it waited for the
      // limit's lock): its RUNNING state says so, so the state history never shows more runs
      // holding a tag's slots at once than the limit allowed.
      const got = new Date().toISOString();
      if (got > ctx.proposed.timestamp) ctx.proposed = { ...ctx.proposed, timestamp: got };
      return;
    }
    if (decision.zeroLimit !== undefined) {
      return { status: "ABORT", reason: `The concurrency limit on tag '${decision.zeroLimit}' is 0 and will deadlock if the task tries to run again.` };
    }
    const delaySeconds = orchestrationSettings().tagSlotWaitSeconds;
    return { status: "WAIT", reason: `Concurrency limit for the '${decision.fullTag}' tag has been reached`, delaySeconds };
  },
};
