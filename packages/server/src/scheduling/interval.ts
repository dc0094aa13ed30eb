import type { IntervalSchedule } from "@baton/core";
import { instantToWallClock, wallClockToInstant } from "@baton/core";

const DAY_MS = 86_400_000;

/**
 * Interval schedules, as the contract's IntervalSchedule describes them: occurrence k is the
 * anchor plus k intervals, where the whole days of the interval are calendar days of the
 * schedule's zone (a daily run anchored at 09:00 Berlin stays at 09:00 through daylight-saving
 * changes) and the remainder is elapsed time (an hourly run fires every elapsed hour).
 * Without a zone everything is elapsed time. Occurrences before the anchor exist too: the
 * anchor only fixes the phase.
 */
export function* intervalTimes(schedule: IntervalSchedule, start: Date): Generator<Date> {
  const intervalMs = schedule.interval * 1000;
  const anchor = Date.parse(schedule.anchor_date);
  const occurrence = occurrenceAt(schedule, anchor);
  // Start a little before the first candidate: calendar days drift from elapsed days by at
  // most the zone's offset changes.
  let k = Math.floor((start.getTime() - anchor) / intervalMs) - 2;
  while (occurrence(k) < start.getTime()) k++;
  let last = -Infinity;
  for (;;) {
    const instant = occurrence(k++);
    if (!Number.isFinite(instant) || instant > MAX_INSTANT) return;
    if (instant <= last) continue;
    last = instant;
    yield new Date(instant);
  }
}

/** Year 9999, the last time both databases store. */
const MAX_INSTANT = Date.UTC(9999, 11, 31, 23, 59, 59);

function occurrenceAt(schedule: IntervalSchedule, anchor: number): (k: number) => number {
  const zone = schedule.timezone;
  if (!zone || schedule.interval < 86_400) return (k) => anchor + Math.round(k * schedule.interval * 1000);
  const days = Math.floor(schedule.interval / 86_400);
  const restMs = (schedule.interval - days * 86_400) * 1000;
  const anchorWall = instantToWallClock(zone, anchor) + (anchor % 1000);
  return (k) => wallClockToInstant(zone, anchorWall + k * days * DAY_MS) + Math.round(k * restMs);
}
