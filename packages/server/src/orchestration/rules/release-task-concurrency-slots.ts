import { releaseTagSlots } from "../../db/queries/tag-concurrency-limits.js";
import type { OrchestrationRule } from "../context.js";
import { taskRunTags } from "./secure-task-concurrency-slots.js";

/**
 * A task run that leaves RUNNING, however (completed, failed into a retry, crashed, forced),
 * gives back the tag slots it took when it started.
 */
export const releaseTaskConcurrencySlots: OrchestrationRule = {
  name: "ReleaseTaskConcurrencySlots",
  from: ["RUNNING"],
  to: ["SCHEDULED", "PENDING", "COMPLETED", "FAILED", "CANCELLED", "CANCELLING", "CRASHED", "PAUSED"],
  appliesTo: (ctx) => taskRunTags(ctx).length > 0,
  afterEveryWrite: true,
  async after(ctx) {
    await releaseTagSlots(ctx.trx, ctx.run.row.id);
  },
};
