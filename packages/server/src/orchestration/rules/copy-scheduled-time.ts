import type { OrchestrationRule } from "../context.js";

/** A claimed (PENDING) run keeps the time it was scheduled for, so it still won't start early. */
export const copyScheduledTime: OrchestrationRule = {
  name: "CopyScheduledTime",
  from: ["SCHEDULED"],
  to: ["PENDING"],
  before(ctx) {
    const scheduled = ctx.initial?.state_details.scheduled_time;
    if (scheduled && !ctx.proposed.state_details.scheduled_time) {
      ctx.proposed = { ...ctx.proposed, state_details: { ...ctx.proposed.state_details, scheduled_time: scheduled } };
    }
  },
};
