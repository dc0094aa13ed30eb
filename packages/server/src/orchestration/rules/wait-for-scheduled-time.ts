import type { OrchestrationRule } from "../context.js";

/** A run may not start before the time it was scheduled for; the client is told how long to wait. */
export const waitForScheduledTime: OrchestrationRule = {
  name: "WaitForScheduledTime",
  from: ["SCHEDULED", "PENDING"],
  to: ["RUNNING"],
  before({ initial, now }) {
    const scheduled = initial?.state_details.scheduled_time;
    if (!scheduled) return;
    const delayMs = Date.parse(scheduled) - now.getTime();
    if (delayMs <= 0) return;
    return { status: "WAIT", reason: "The run is scheduled to start later.", delaySeconds: Math.ceil(delayMs / 1000) };
  },
};
