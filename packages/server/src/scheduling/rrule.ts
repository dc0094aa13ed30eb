import type { RRuleSchedule } from "@baton/core";
import { instantToWallClock, wallClockToInstant } from "@baton/core";
// rrule ships CommonJS whose named exports Node cannot detect; its default export holds them.
import rrule from "rrule";

/**
 * RRule schedules (RFC 5545), computed by the `rrule` package on "floating" local times:
 * every date-time in the rule (DTSTART, UNTIL, RDATE, EXDATE) is read as a wall-clock time of
 * the schedule's zone, whatever TZID or trailing Z it carries, as Prefect does when it
 * re-localises an rrule to the schedule's timezone. A 9am daily rule stays at 9am local time
 * across daylight-saving changes. Local times become instants by the same rule as cron
 * (`wallClockToInstant`): first occurrence of a repeated time, end of a skipped one.
 * Without DTSTART the rule starts 2020-01-01 00:00 local, as in Prefect.
 */

/** Prefect's anchor for rules without DTSTART. */
const DEFAULT_DTSTART = new Date(Date.UTC(2020, 0, 1));
const DEFAULT_DTSTART_TEXT = "20200101T000000";

/** The rule with every date-time made floating, ready for `rrulestr`. */
export function floatingRule(text: string): string {
  const lines = text
    .replace(/\r\n/g, "\n")
    .replace(/\n[ \t]/g, "")
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line.length > 0);
  const floating = lines
    .map((line) => {
      const colon = line.indexOf(":");
      if (colon < 0) return stripUntilZone(line);
      const name = line.slice(0, colon);
      const value = line.slice(colon + 1);
      const property = name.split(";")[0]!.toUpperCase();
      if (property === "RRULE" || property === "EXRULE") return `${property}:${stripUntilZone(value)}`;
      if (property === "DTSTART" || property === "RDATE" || property === "EXDATE") {
        const params = name
          .split(";")
          .slice(1)
          .filter((p) => !/^TZID=/i.test(p));
        const times = value
          .split(",")
          .map((t) => t.trim().replace(/Z$/i, ""))
          .join(",");
        return `${[property, ...params].join(";")}:${times}`;
      }
      return line;
    })
    .join("\n");
  // The package would start a rule without DTSTART now, so its times would move with the clock.
  return /^DTSTART[;:]/im.test(floating) ? floating : `DTSTART:${DEFAULT_DTSTART_TEXT}\n${floating}`;
}

function stripUntilZone(rule: string): string {
  return rule.replace(/(UNTIL=\d{8}(T\d{6})?)Z/i, "$1");
}

export function parseRRule(schedule: Pick<RRuleSchedule, "rrule">): rrule.RRuleSet {
  return rrule.rrulestr(floatingRule(schedule.rrule), { forceset: true }) as rrule.RRuleSet;
}

/** Why the text is not an rrule Baton runs, or undefined if it is one. */
export function rruleProblem(schedule: Pick<RRuleSchedule, "rrule">): string | undefined {
  try {
    const set = parseRRule(schedule);
    if (set.rrules().length === 0 && set.rdates().length === 0) return "invalid rrule: it has no RRULE or RDATE";
    // Parsing is lenient; the first occurrence shows whether the rule can be computed.
    set.after(DEFAULT_DTSTART, true);
    return undefined;
  } catch (error) {
    return `invalid rrule: ${(error as Error).message}`;
  }
}

const DAY_MS = 86_400_000;
const LARGEST_CLOCK_CHANGE_MS = 3 * 3_600_000;
/** Year 9999, the last time both databases store. */
const MAX_WALL = Date.UTC(9999, 11, 31);

/** Length of one period of each frequency that has a fixed length in floating time. */
const FIXED_PERIOD_MS: Partial<Record<rrule.Frequency, number>> = {
  [rrule.Frequency.SECONDLY]: 1000,
  [rrule.Frequency.MINUTELY]: 60_000,
  [rrule.Frequency.HOURLY]: 3_600_000,
  [rrule.Frequency.DAILY]: DAY_MS,
  [rrule.Frequency.WEEKLY]: 7 * DAY_MS,
};

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The rrule package walks every occurrence from DTSTART on each query, so an hourly rule
 * started in 2020 costs seconds. Moving DTSTART forward by whole periods of every rule in the
 * set keeps the same occurrences after the new start (the period grid and the defaults taken
 * from DTSTART, such as its minute or weekday, are unchanged); a COUNT, an EXRULE or a
 * calendar frequency (monthly, yearly: cheap anyway) keeps the original start.
 */
function fastForward(set: rrule.RRuleSet, fromWall: number): rrule.RRuleSet {
  const rules = set.rrules();
  if (rules.length === 0 || set.exrules().length > 0) return set;
  let periodMs = 0;
  let dtstart: number | undefined;
  for (const rule of rules) {
    if (!(rule instanceof rrule.RRule) || rule.options.count !== null) return set;
    const unit = FIXED_PERIOD_MS[rule.options.freq];
    if (!unit) return set;
    const p = unit * rule.options.interval;
    periodMs = periodMs === 0 ? p : (periodMs / gcd(periodMs, p)) * p;
    const start = rule.options.dtstart.getTime();
    if (dtstart !== undefined && dtstart !== start) return set;
    dtstart = start;
  }
  if (dtstart === undefined || !Number.isSafeInteger(periodMs)) return set;
  const periods = Math.floor((fromWall - dtstart) / periodMs) - 1;
  if (periods <= 0) return set;
  const moved = new rrule.RRuleSet();
  const newStart = new Date(dtstart + periods * periodMs);
  for (const rule of rules as rrule.RRule[]) moved.rrule(new rrule.RRule({ ...rule.origOptions, dtstart: newStart }));
  for (const date of set.rdates()) moved.rdate(date);
  for (const date of set.exdates()) moved.exdate(date);
  return moved;
}

/** The schedule's times at or after `start`, in order, until the rule ends. */
export function* rruleTimes(schedule: RRuleSchedule, start: Date): Generator<Date> {
  const zone = schedule.timezone;
  let from = instantToWallClock(zone, start.getTime()) - LARGEST_CLOCK_CHANGE_MS;
  const set = fastForward(parseRRule(schedule), from);
  // The rrule package walks from DTSTART on every query, so the window grows as it goes to
  // keep the number of queries small.
  let windowMs = 3_600_000;
  let last = -Infinity;
  while (from <= MAX_WALL) {
    const to = from + windowMs;
    for (const wall of set.between(new Date(from), new Date(to), true)) {
      if (wall.getTime() === to) continue;
      const instant = wallClockToInstant(zone, wall.getTime());
      if (instant < start.getTime() || instant <= last) continue;
      last = instant;
      yield new Date(instant);
    }
    const next = set.after(new Date(to), true);
    if (!next) return;
    from = Math.max(to, next.getTime());
    windowMs = Math.min(windowMs * 4, 366 * DAY_MS);
  }
}
