import { describe, expect, it } from "vitest";
import { RecentIds } from "../src/automations/recent-ids.js";

describe("RecentIds", () => {
  it("remembers the last `capacity` ids and forgets the oldest first", () => {
    const recent = new RecentIds(3);
    for (const id of ["a", "b", "c"]) recent.add(id);
    expect(["a", "b", "c"].map((id) => recent.has(id))).toEqual([true, true, true]);
    recent.add("d");
    expect(recent.has("a")).toBe(false);
    expect(["b", "c", "d"].every((id) => recent.has(id))).toBe(true);
    expect(recent.size).toBe(3);
  });

  it("does not count an id added twice as two arrivals", () => {
    const recent = new RecentIds(2);
    recent.add("a");
    recent.add("a");
    recent.add("b");
    expect(recent.has("a")).toBe(true);
    expect(recent.has("b")).toBe(true);
    recent.add("c");
    expect(recent.has("a")).toBe(false);
    expect(recent.size).toBe(2);
  });

  it("keeps exactly the window over many evictions", () => {
    const recent = new RecentIds(1000);
    for (let i = 0; i < 25_000; i++) recent.add(`id-${i}`);
    expect(recent.size).toBe(1000);
    expect(recent.has("id-23999")).toBe(false);
    expect(recent.has("id-24000")).toBe(true);
    expect(recent.has("id-24999")).toBe(true);
  });

  it("refuses a capacity that is not a positive integer", () => {
    expect(() => new RecentIds(0)).toThrow(/capacity/);
    expect(() => new RecentIds(1.5)).toThrow(/capacity/);
  });
});
