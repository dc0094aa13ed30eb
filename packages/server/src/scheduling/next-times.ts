import { InvalidInputError, MAX_SCHEDULED_RUNS_PER_SCHEDULE, isCronSchedule, isIntervalSchedule, type Schedule } from "@baton/core";
import { cronProblem, cronTimes } from "./cron.js";
import { intervalTimes } from "./interval.js";
import { rruleProblem, rruleTimes } from "./rrule.js";

/**
 * The one way into schedules: the times a schedule fires, in order, from `start`. One module
 * per kind computes them (cron.ts, interval.ts, rrule.ts); all turn local times into instants
 * by the same daylight-saving rule (`wallClockToInstant` in @baton/core).
 */
export function scheduleTimes(schedule: Schedule, start: Date): Generator<Date> {
  if (isIntervalSchedule(schedule)) return intervalTimes(schedule, start);
  if (isCronSchedule(schedule)) return cronTimes(schedule, start);
  return rruleTimes(schedule, start);
}

export interface TimeWindow {
  /** First time considered (inclusive). */
  start: Date;
  /** Last time considered (inclusive); none means no end. */
  end?: Date | undefined;
  /** At most this many times (and never more than MAX_SCHEDULED_RUNS_PER_SCHEDULE). */
  maxRuns: number;
}

/** The schedule's times in `[start, end]`, at most `maxRuns` of them, oldest first. */
export function nextScheduledTimes(schedule: Schedule, { start, end, maxRuns }: TimeWindow): Date[] {
  const limit = Math.min(maxRuns, MAX_SCHEDULED_RUNS_PER_SCHEDULE);
  const times: Date[] = [];
  if (limit <= 0) return times;
  for (const time of scheduleTimes(schedule, start)) {
    if (end && time > end) break;
    times.push(time);
    if (times.length >= limit) break;
  }
  return times;
}

/**
 * Refuses a schedule whose expression cannot be computed, naming the field: `field` is where
 * the schedule sits in the request (`body.schedules.0.schedule`). Zones were checked when the
 * body was parsed.
 */
export function checkSchedule(schedule: Schedule, field: string): void {
  if (isIntervalSchedule(schedule)) return;
  if (isCronSchedule(schedule)) {
    const problem = cronProblem(schedule);
    if (problem) throw new InvalidInputError(`${field}.cron`, problem);
    return;
  }
  const problem = rruleProblem(schedule);
  if (problem) throw new InvalidInputError(`${field}.rrule`, problem);
}
