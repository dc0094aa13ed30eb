import { describe, expect, it } from "vitest";
import { InvalidInputError, Schedule } from "@baton/core";
import { checkSchedule, nextScheduledTimes } from "@baton/server";

/**
 * Schedule arithmetic, pure (no database). Daylight-saving rule under test, the same for
 * cron, interval (whole days) and rrule: a local time that occurs twice means its first
 * occurrence; a local time that does not occur means the moment clocks change (the first
 * instant after the gap). Europe/Berlin in 2026: clocks go 02:00 CET -> 03:00 CEST on
 * 29 March (01:00 UTC), and 03:00 CEST -> 02:00 CET on 25 October (01:00 UTC).
 */

const BERLIN = "Europe/Berlin";

function times(schedule: unknown, start: string, maxRuns: number, end?: string): string[] {
  return nextScheduledTimes(Schedule.parse(schedule), { start: new Date(start), end: end ? new Date(end) : undefined, maxRuns }).map((d) => d.toISOString());
}

/** "2026-03-29 03:00 GMT+2": the local time in Berlin, to read the expectations at a glance. */
function berlin(iso: string): string {
  const parts = new Intl.DateTimeFormat("en-GB", {
    timeZone: BERLIN,
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    hourCycle: "h23",
    timeZoneName: "short",
  }).formatToParts(new Date(iso));
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")} ${part("hour")}:${part("minute")} ${part("timeZoneName")}`;
}

describe("cron in Europe/Berlin across daylight-saving changes", () => {
  it("0 2 * * *: the skipped 02:00 of 29 March fires at 03:00 CEST, the moment clocks change", () => {
    const fired = times({ cron: "0 2 * * *", timezone: BERLIN }, "2026-03-27T12:00:00Z", 3);
    expect(fired).toEqual(["2026-03-28T01:00:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-30T00:00:00.000Z"]);
    expect(fired.map(berlin)).toEqual(["2026-03-28 02:00 CET", "2026-03-29 03:00 CEST", "2026-03-30 02:00 CEST"]);
  });

  it("0 2 * * *: the repeated 02:00 of 25 October fires once, at its first occurrence (CEST)", () => {
    const fired = times({ cron: "0 2 * * *", timezone: BERLIN }, "2026-10-23T12:00:00Z", 3);
    expect(fired).toEqual(["2026-10-24T00:00:00.000Z", "2026-10-25T00:00:00.000Z", "2026-10-26T01:00:00.000Z"]);
    expect(fired.map(berlin)).toEqual(["2026-10-24 02:00 CEST", "2026-10-25 02:00 CEST", "2026-10-26 02:00 CET"]);
  });

  it("30 2 * * *: a skipped 02:30 also fires at the change (03:00), a repeated one once", () => {
    expect(times({ cron: "30 2 * * *", timezone: BERLIN }, "2026-03-27T12:00:00Z", 3).map(berlin)).toEqual([
      "2026-03-28 02:30 CET",
      "2026-03-29 03:00 CEST",
      "2026-03-30 02:30 CEST",
    ]);
    expect(times({ cron: "30 2 * * *", timezone: BERLIN }, "2026-10-24T12:00:00Z", 2)).toEqual(["2026-10-25T00:30:00.000Z", "2026-10-26T01:30:00.000Z"]);
  });

  it("0 * * * *: in March 02:00 and 03:00 are one run; in October the repeated hour does not fire again", () => {
    const march = times({ cron: "0 * * * *", timezone: BERLIN }, "2026-03-28T22:30:00Z", 4);
    expect(march).toEqual(["2026-03-28T23:00:00.000Z", "2026-03-29T00:00:00.000Z", "2026-03-29T01:00:00.000Z", "2026-03-29T02:00:00.000Z"]);
    expect(march.map(berlin)).toEqual(["2026-03-29 00:00 CET", "2026-03-29 01:00 CET", "2026-03-29 03:00 CEST", "2026-03-29 04:00 CEST"]);
    // The contract's CronSchedule: "fires on every new schedule hour, not every elapsed hour",
    // so there are two hours between 02:00 CEST and 03:00 CET.
    const october = times({ cron: "0 * * * *", timezone: BERLIN }, "2026-10-24T22:30:00Z", 4);
    expect(october).toEqual(["2026-10-24T23:00:00.000Z", "2026-10-25T00:00:00.000Z", "2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"]);
    expect(october.map(berlin)).toEqual(["2026-10-25 01:00 CEST", "2026-10-25 02:00 CEST", "2026-10-25 03:00 CET", "2026-10-25 04:00 CET"]);
  });

  it("starting inside the repeated hour gives no time before the start", () => {
    expect(times({ cron: "0 * * * *", timezone: BERLIN }, "2026-10-25T01:00:00Z", 2)).toEqual(["2026-10-25T02:00:00.000Z", "2026-10-25T03:00:00.000Z"]);
  });
});

describe("cron", () => {
  it("without a zone is UTC; the start itself counts when it matches", () => {
    expect(times({ cron: "*/15 * * * *" }, "2026-01-01T00:00:00Z", 3)).toEqual(["2026-01-01T00:00:00.000Z", "2026-01-01T00:15:00.000Z", "2026-01-01T00:30:00.000Z"]);
  });

  it("day_or: true fires on day-of-month OR weekday, false on both", () => {
    // 13 February, 13 March and 13 November 2026 are Fridays.
    expect(times({ cron: "0 0 13 * FRI", day_or: false }, "2026-01-01T00:00:00Z", 3)).toEqual([
      "2026-02-13T00:00:00.000Z",
      "2026-03-13T00:00:00.000Z",
      "2026-11-13T00:00:00.000Z",
    ]);
    expect(times({ cron: "0 0 13 * FRI" }, "2026-01-01T00:00:00Z", 3)).toEqual(["2026-01-02T00:00:00.000Z", "2026-01-09T00:00:00.000Z", "2026-01-13T00:00:00.000Z"]);
  });

  it("a pattern that never matches gives no times; nicknames work", () => {
    expect(times({ cron: "0 0 30 2 *" }, "2026-01-01T00:00:00Z", 3)).toEqual([]);
    expect(times({ cron: "@daily", timezone: "America/New_York" }, "2026-01-01T00:00:00Z", 1)).toEqual(["2026-01-01T05:00:00.000Z"]);
  });

  it("stops at maxRuns and at the window's end", () => {
    expect(times({ cron: "0 * * * *" }, "2026-01-01T00:00:00Z", 2)).toHaveLength(2);
    expect(times({ cron: "0 * * * *" }, "2026-01-01T00:00:00Z", 100, "2026-01-01T03:00:00Z")).toEqual([
      "2026-01-01T00:00:00.000Z",
      "2026-01-01T01:00:00.000Z",
      "2026-01-01T02:00:00.000Z",
      "2026-01-01T03:00:00.000Z",
    ]);
  });
});

describe("interval", () => {
  it("1 day anchored at 09:00 in Berlin stays at 09:00 local across both changes", () => {
    const daily = { interval: 86_400, anchor_date: "2026-03-01T09:00:00", timezone: BERLIN };
    const march = times(daily, "2026-03-27T12:00:00Z", 3);
    expect(march).toEqual(["2026-03-28T08:00:00.000Z", "2026-03-29T07:00:00.000Z", "2026-03-30T07:00:00.000Z"]);
    expect(times(daily, "2026-10-23T12:00:00Z", 3).map(berlin)).toEqual(["2026-10-24 09:00 CEST", "2026-10-25 09:00 CET", "2026-10-26 09:00 CET"]);
  });

  it("an interval under a day counts elapsed time, even across a change", () => {
    const hourly = { interval: 3600, anchor_date: "2026-03-01T09:00:00", timezone: BERLIN };
    const fired = times(hourly, "2026-10-24T23:30:00Z", 4).map(Date.parse);
    expect(fired.slice(1).map((t, i) => t - fired[i]!)).toEqual([3_600_000, 3_600_000, 3_600_000]);
  });

  it("without a zone counts from the anchor in UTC, before the anchor too", () => {
    expect(times({ interval: 90, anchor_date: "2026-01-01T00:00:00Z" }, "2026-01-01T00:10:00Z", 3)).toEqual([
      "2026-01-01T00:10:30.000Z",
      "2026-01-01T00:12:00.000Z",
      "2026-01-01T00:13:30.000Z",
    ]);
    expect(times({ interval: 3600, anchor_date: "2030-01-01T00:30:00Z" }, "2026-01-01T00:10:00Z", 1)).toEqual(["2026-01-01T00:30:00.000Z"]);
  });

  it("reads an anchor without an offset as local time of the zone, and keeps an explicit offset", () => {
    expect(Schedule.parse({ interval: 60, anchor_date: "2026-07-01T09:00:00", timezone: BERLIN })).toMatchObject({ anchor_date: "2026-07-01T07:00:00.000Z" });
    expect(Schedule.parse({ interval: 60, anchor_date: "2026-07-01T09:00:00+05:00", timezone: BERLIN })).toMatchObject({ anchor_date: "2026-07-01T04:00:00.000Z" });
    expect(Schedule.parse({ interval: 60, anchor_date: "2026-07-01T09:00:00" })).toMatchObject({ anchor_date: "2026-07-01T09:00:00.000Z", timezone: null });
  });
});

describe("rrule", () => {
  it("DTSTART with TZID: 09:00 local every day, across the March change", () => {
    const schedule = { rrule: "DTSTART;TZID=Europe/Berlin:20260101T090000\nRRULE:FREQ=DAILY" };
    expect(Schedule.parse(schedule)).toMatchObject({ timezone: BERLIN });
    expect(times(schedule, "2026-03-27T12:00:00Z", 3).map(berlin)).toEqual(["2026-03-28 09:00 CET", "2026-03-29 09:00 CEST", "2026-03-30 09:00 CEST"]);
  });

  it("an explicit timezone wins over the TZID; without either, times are UTC", () => {
    const schedule = { rrule: "DTSTART;TZID=America/New_York:20260101T090000\nRRULE:FREQ=DAILY", timezone: BERLIN };
    expect(times(schedule, "2026-06-01T00:00:00Z", 1)).toEqual(["2026-06-01T07:00:00.000Z"]);
    expect(Schedule.parse({ rrule: "FREQ=DAILY" })).toMatchObject({ timezone: "UTC" });
  });

  it("a skipped local time fires at the change, as cron does", () => {
    expect(times({ rrule: "DTSTART:20260301T023000\nRRULE:FREQ=DAILY", timezone: BERLIN }, "2026-03-28T12:00:00Z", 2)).toEqual([
      "2026-03-29T01:00:00.000Z",
      "2026-03-30T00:30:00.000Z",
    ]);
  });

  it("COUNT, UNTIL and EXDATE end or thin the rule", () => {
    expect(times({ rrule: "DTSTART:20260101T090000\nRRULE:FREQ=DAILY;COUNT=3" }, "2025-01-01T00:00:00Z", 10)).toEqual([
      "2026-01-01T09:00:00.000Z",
      "2026-01-02T09:00:00.000Z",
      "2026-01-03T09:00:00.000Z",
    ]);
    expect(
      times(
        { rrule: "DTSTART:20260105T090000\nRRULE:FREQ=WEEKLY;BYDAY=MO;UNTIL=20260201T000000\nEXDATE:20260112T090000", timezone: "America/New_York" },
        "2026-01-01T00:00:00Z",
        10,
      ),
    ).toEqual(["2026-01-05T14:00:00.000Z", "2026-01-19T14:00:00.000Z", "2026-01-26T14:00:00.000Z"]);
  });

  it("without DTSTART starts 2020-01-01 00:00, so its times do not move with the clock", () => {
    const fired = times({ rrule: "RRULE:FREQ=HOURLY;INTERVAL=5" }, "2026-03-27T12:00:00Z", 3).map(Date.parse);
    for (const t of fired) expect((t - Date.UTC(2020, 0, 1)) % (5 * 3_600_000)).toBe(0);
    expect(fired[1]! - fired[0]!).toBe(5 * 3_600_000);
  });

  it("finds times years after DTSTART without walking every occurrence since", () => {
    const fired = times({ rrule: "DTSTART:20200101T000017\nRRULE:FREQ=SECONDLY;INTERVAL=30" }, "2026-03-27T12:00:00Z", 2);
    expect(fired).toEqual(["2026-03-27T12:00:17.000Z", "2026-03-27T12:00:47.000Z"]);
  });
});

describe("checkSchedule", () => {
  it("names the cron field for an expression croner refuses", () => {
    for (const cron of ["61 * * * *", "* * * * * *", "every day"]) {
      expect(() => checkSchedule(Schedule.parse({ cron }), "body.schedules.0.schedule")).toThrow(InvalidInputError);
      try {
        checkSchedule(Schedule.parse({ cron }), "body.schedules.0.schedule");
      } catch (error) {
        expect((error as InvalidInputError).field).toBe("body.schedules.0.schedule.cron");
      }
    }
    expect(() => checkSchedule(Schedule.parse({ cron: "*/5 * * * MON-FRI" }), "s")).not.toThrow();
  });

  it("names the rrule field for a rule that cannot be read", () => {
    expect(() => checkSchedule(Schedule.parse({ rrule: "FREQ=SOMETIMES" }), "body.schedule")).toThrow(/body\.schedule\.rrule/);
    expect(() => checkSchedule(Schedule.parse({ rrule: "hello world" }), "body.schedule")).toThrow(/body\.schedule\.rrule/);
  });

  it("refuses unknown time zones when the schedule is read", () => {
    const result = Schedule.safeParse({ cron: "0 0 * * *", timezone: "Mars/Olympus_Mons" });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path).toEqual(["timezone"]);
    expect(Schedule.safeParse({ interval: 60, timezone: "+02:00" }).success).toBe(false);
  });
});
