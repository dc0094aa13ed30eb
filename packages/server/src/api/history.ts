import { FlowRunHistoryBody } from "@baton/core";

/** Most buckets one history request may ask for. */
const MAX_HISTORY_INTERVALS = 500;

/**
 * The history body of `/flow_runs/history` and `/task_runs/history`, with the checks the
 * schema alone cannot express: the range is forwards and not cut into too many buckets.
 */
export const HistoryRequestBody = FlowRunHistoryBody.refine((b) => Date.parse(b.history_end) > Date.parse(b.history_start), {
  message: "must be after history_start",
  path: ["history_end"],
}).refine((b) => (Date.parse(b.history_end) - Date.parse(b.history_start)) / 1000 / b.history_interval_seconds <= MAX_HISTORY_INTERVALS, {
  message: `too many intervals (at most ${MAX_HISTORY_INTERVALS}): raise history_interval_seconds`,
  path: ["history_interval_seconds"],
});
