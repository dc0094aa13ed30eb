import type { CronSchedule } from "@baton/core";
import { instantToWallClock, wallClockToInstant } from "@baton/core";
import { Cron } from "croner";

/**
 * Cron schedules, matched by croner against local wall-clock time in the schedule's zone.
 *
 * Croner runs on "floating" time (its zone is UTC, fed and read as local fields) and each
 * matching local time becomes an instant by one rule for every pattern (see
 * `wallClockToInstant`): a local time that occurs twice fires once, at its first occurrence;
 * a local time skipped by clocks going forward fires at the moment of the change. So in
 * Europe/Berlin `0 2 * * *` fires at 03:00 CEST on the night clocks skip 02:00-03:00 and once
 * (02:00 CEST) on the night 02:00-03:00 repeats, and `0 * * * *` pauses two hours over the
 * repeated hour, as the contract's CronSchedule documents ("fires on every new schedule
 * hour, not every elapsed hour").
 */

/** Croner parses the pattern; `day_or` false asks day-of-month AND day-of-week to match. */
export function parseCron(schedule: Pick<CronSchedule, "cron" | "day_or">): Cron {
  return new Cron(schedule.cron, { utcOffset: 0, mode: "5-part", domAndDow: !schedule.day_or });
}

/** Why the expression is not a cron schedule Baton runs, or undefined if it is one. */
export function cronProblem(schedule: Pick<CronSchedule, "cron" | "day_or">): string | undefined {
  try {
    parseCron(schedule);
    return undefined;
  } catch (error) {
    const message = (error as Error).message.replace(/^CronPattern: /, "");
    return `invalid cron expression "${schedule.cron}": ${message} (five fields: minute hour day-of-month month day-of-week, or @hourly, @daily...)`;
  }
}

/** Clocks never move by more than this at once, so starting this far back misses no time. */
const LARGEST_CLOCK_CHANGE_MS = 3 * 3_600_000;

/** The schedule's times at or after `start`, in order, until the pattern matches no more. */
export function* cronTimes(schedule: CronSchedule, start: Date): Generator<Date> {
  const cron = parseCron(schedule);
  const zone = schedule.timezone ?? "UTC";
  let wall = instantToWallClock(zone, start.getTime()) - LARGEST_CLOCK_CHANGE_MS;
  let last = -Infinity;
  for (;;) {
    const next = cron.nextRun(new Date(wall));
    if (!next) return;
    wall = next.getTime();
    const instant = wallClockToInstant(zone, wall);
    if (instant < start.getTime() || instant <= last) continue;
    last = instant;
    yield new Date(instant);
  }
}
