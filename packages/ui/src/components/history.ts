import type { HistoryInterval } from "@baton/core";
import { LIVE_MS, usePost } from "../queries";

export const HISTORY_RANGES: Array<[string, string, number]> = [
  ["1h", "Past hour", 3600],
  ["24h", "Past day", 86400],
  ["7d", "Past 7 days", 7 * 86400],
  ["30d", "Past 30 days", 30 * 86400],
];

/**
 * `POST /flow_runs/history` over the past `seconds`, in about 60 buckets, with the window's
 * edges rounded to a bucket so the query key holds still between polls. `criteria` narrows
 * the runs (e.g. `{ flows: { id: { any_: [id] } } }`).
 */
export function useRunHistory(seconds: number, criteria: Record<string, unknown> = {}) {
  const interval = Math.max(60, Math.round(seconds / 60));
  const end = Math.ceil(Date.now() / 1000 / interval) * interval;
  return usePost<HistoryInterval[]>(
    "/flow_runs/history",
    { ...criteria, history_start: new Date((end - seconds) * 1000).toISOString(), history_end: new Date(end * 1000).toISOString(), history_interval_seconds: interval },
    { refetchInterval: LIVE_MS * 3, placeholderData: (previous) => previous },
  );
}

/** Runs per state type over the whole history. */
export function countByType(history: HistoryInterval[] | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const bucket of history ?? []) for (const s of bucket.states) counts.set(s.state_type, (counts.get(s.state_type) ?? 0) + s.count_runs);
  return counts;
}
