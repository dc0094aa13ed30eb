import type { Schedule } from "@baton/core";

/** A schedule in words: "every 1h", "cron 0 * * * * (UTC)", "rrule ...". */
export function describeSchedule(schedule: Schedule): string {
  const s = schedule as unknown as Record<string, unknown>;
  const tz = s.timezone ? ` (${String(s.timezone)})` : "";
  if (typeof s.interval === "number") return `every ${interval(s.interval)}${tz}`;
  if (typeof s.cron === "string") return `cron ${s.cron}${tz}`;
  if (typeof s.rrule === "string") return `rrule ${s.rrule}${tz}`;
  return JSON.stringify(schedule);
}

function interval(seconds: number): string {
  if (seconds % 86400 === 0) return `${seconds / 86400}d`;
  if (seconds % 3600 === 0) return `${seconds / 3600}h`;
  if (seconds % 60 === 0) return `${seconds / 60}m`;
  return `${seconds}s`;
}
