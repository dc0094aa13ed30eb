import { describe, expect, it } from "vitest";
import { DateTime, Id, completeStateDetails, FlowRunPolicy, TaskRunPolicy } from "@baton/core";

describe("DateTime", () => {
  it("normalises any offset and precision to UTC milliseconds", () => {
    expect(DateTime.parse("2026-03-29T03:30:00.123456+02:00")).toBe("2026-03-29T01:30:00.123Z");
    expect(DateTime.parse("2026-01-01 10:00:00")).toBe("2026-01-01T10:00:00.000Z");
    expect(DateTime.parse("2026-01-01")).toBe("2026-01-01T00:00:00.000Z");
  });

  it.each(["2030-02-30T00:00:00Z", "2031-02-29T00:00:00Z", "0000-01-01T00:00:00Z", "2026-13-01T00:00:00Z", "yesterday", "2026-01-01T25:00:00Z", ""])(
    "refuses %j",
    (value) => {
      expect(DateTime.safeParse(value).success).toBe(false);
    },
  );

  it("accepts February 29 of a leap year", () => {
    expect(DateTime.parse("2028-02-29T12:00:00Z")).toBe("2028-02-29T12:00:00.000Z");
  });
});

describe("Id", () => {
  it("lower-cases so both databases compare ids alike", () => {
    expect(Id.parse("0B7E1C2A-5D3F-4A8E-9C61-2F4D8E6A1B3C")).toBe("0b7e1c2a-5d3f-4a8e-9c61-2f4d8e6a1b3c");
  });
  it("refuses what is not a UUID", () => {
    expect(Id.safeParse("0b7e1c2a").success).toBe(false);
  });
});

describe("state details and policies", () => {
  it("list every state_details key, keeping the given values", () => {
    const details = completeStateDetails({ cache_key: "k" });
    expect(details.cache_key).toBe("k");
    expect(details.scheduled_time).toBeNull();
    expect(Object.keys(details)).toHaveLength(18);
  });
  it("fill retry policies with their defaults", () => {
    expect(FlowRunPolicy.parse({ retries: 2 })).toEqual({
      max_retries: 0,
      retry_delay_seconds: 0,
      retries: 2,
      retry_delay: null,
      pause_keys: null,
      resuming: false,
      retry_type: null,
    });
    expect(TaskRunPolicy.parse({ retry_delay: [1, 2] }).retry_delay).toEqual([1, 2]);
    expect(TaskRunPolicy.safeParse({ retries: -1 }).success).toBe(false);
  });
});
