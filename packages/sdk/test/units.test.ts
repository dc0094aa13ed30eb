import { describe, expect, it } from "vitest";
import { claimInOrder, CLAIM_CONCURRENCY, flow, InvalidOptionError, task, taskInputHash } from "@baton/sdk";
import { parameterNames, namedParameters, toJsonSafe } from "../src/engine/parameters.js";
import { resultFromState, serializeResult } from "../src/results/serializer.js";
import { expandMapArgs, unmapped } from "../src/task.js";
import { stableStringify, taskKeyFor } from "../src/cache/keys.js";
import { currentSettings } from "../src/settings.js";
import { sleepForWait } from "../src/engine/retries.js";

/* Pure pieces of the SDK, without a server. */

describe("parameter names", () => {
  it("reads names from function declarations, arrows, defaults, rest and destructuring", () => {
    expect(parameterNames(function f(a: number, b = "x,y", ...rest: number[]) {
      return [a, b, rest];
    })).toEqual([
      { name: "a", rest: false },
      { name: "b", rest: false },
      { name: "rest", rest: true },
    ]);
    expect(parameterNames((x: number) => x).map((p) => p.name)).toEqual(["x"]);
    expect(parameterNames(async (x: number, /* note, with comma */ y: number) => x + y).map((p) => p.name)).toEqual(["x", "y"]);
    expect(parameterNames(({ a }: { a: number }, [b]: number[]) => a + (b ?? 0)).map((p) => p.name)).toEqual(["arg0", "arg1"]);
    expect(parameterNames(() => 1)).toEqual([]);
    const obj = { method(p: string, q = (1 + 2) * 3) { return p + q; } };
    expect(parameterNames(obj.method).map((p) => p.name)).toEqual(["p", "q"]);
  });

  it("maps arguments to names; extra ones become arg<i>, rest ones an array", () => {
    expect(namedParameters((a: number, b: number) => a + b, [1, 2, 3])).toEqual({ a: 1, b: 2, arg2: 3 });
    expect(namedParameters((a: number, ...more: number[]) => a + more.length, [1, 2, 3])).toEqual({ a: 1, more: [2, 3] });
    expect(namedParameters((a: number, b?: number) => a + (b ?? 0), [1])).toEqual({ a: 1 });
  });

  it("toJsonSafe describes what JSON cannot carry", () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(toJsonSafe({ big: 10n, fn: function named() {}, when: new Date(0), set: new Set([1]), cyclic, nan: NaN })).toEqual({
      big: "10",
      fn: "<function named>",
      when: "1970-01-01T00:00:00.000Z",
      set: [1],
      cyclic: { a: 1, self: "<circular>" },
      nan: "NaN",
    });
  });
});

describe("result serialisation", () => {
  it("stores plain JSON as { type: 'json', value } and reads it back", () => {
    for (const value of [0, "s", true, null, [1, [2]], { a: { b: [1, "x"] } }]) {
      const { data, untrackable } = serializeResult(value);
      expect(untrackable).toBe(false);
      expect(data).toEqual({ type: "json", value });
      expect(resultFromState({ id: "x", data, state_details: {} })).toEqual(value);
    }
    expect(serializeResult(undefined)).toEqual({ data: { type: "json" }, untrackable: false });
    expect(resultFromState({ id: "x", data: { type: "json" }, state_details: {} })).toBeUndefined();
  });

  it("marks values that would not survive JSON as untrackable", () => {
    const cyclic: unknown[] = [];
    cyclic.push(cyclic);
    class Point {
      constructor(readonly x: number) {}
    }
    for (const value of [new Date(), new Map(), new Point(1), 1n, NaN, Infinity, () => 1, cyclic, [undefined], { s: Symbol("x") }]) {
      expect(serializeResult(value)).toEqual({ data: null, untrackable: true });
    }
    expect(() => resultFromState({ id: "x", data: null, state_details: { untrackable_result: true } })).toThrow(/not available/);
  });
});

describe("map arguments", () => {
  it("zips arrays and broadcasts the rest", () => {
    expect(expandMapArgs([[1, 2], "k", unmapped([9])])).toEqual([
      [1, "k", [9]],
      [2, "k", [9]],
    ]);
    expect(expandMapArgs([[], 1])).toEqual([]);
    expect(() => expandMapArgs([[1], [1, 2]])).toThrow(/same length/);
    expect(() => expandMapArgs([1])).toThrow(/at least one array/);
  });
});

describe("cache keys", () => {
  it("taskInputHash ignores object key order and depends on task and inputs", () => {
    const ctx = (taskKey: string, args: unknown[]) => ({ taskName: "t", taskKey, args, parameters: {}, flowRunId: undefined });
    expect(taskInputHash(ctx("k", [{ a: 1, b: 2 }]))).toBe(taskInputHash(ctx("k", [{ b: 2, a: 1 }])));
    expect(taskInputHash(ctx("k", [1]))).not.toBe(taskInputHash(ctx("k", [2])));
    expect(taskInputHash(ctx("k", [1]))).not.toBe(taskInputHash(ctx("other", [1])));
    expect(stableStringify({ b: [{ d: 1, c: 2 }], a: 0 })).toBe('{"a":0,"b":[{"c":2,"d":1}]}');
    expect(taskKeyFor("fetch")).toMatch(/^fetch-[0-9a-f]{8}$/);
    expect(taskKeyFor("fetch")).toBe(taskKeyFor("fetch"));
  });
});

describe("options", () => {
  it("rejects bad options at definition time, naming the field", () => {
    expect(() => task({ retries: -1 }, function f() {})).toThrow(InvalidOptionError);
    expect(() => task({ retries: 1.5 }, function f() {})).toThrow(/task\.retries/);
    expect(() => task({ retryDelaySeconds: [] }, function f() {})).toThrow(/task\.retryDelaySeconds/);
    expect(() => flow({ timeoutSeconds: 0 }, function f() {})).toThrow(/flow\.timeoutSeconds/);
    expect(() => flow({ name: "a/b" }, function f() {})).toThrow(/flow\.name/);
    expect(() => flow(() => 1)).toThrow(/has no name/);
  });

  it("keeps the function's name, options and a withOptions copy", () => {
    const t = task({ retries: 1, description: "adds" }, function adder(a: number) {
      return a + 1;
    });
    expect(t.name).toBe("adder");
    expect(t.description).toBe("adds");
    expect(t.withOptions({ name: "renamed" }).name).toBe("renamed");
    expect(t.withOptions({ name: "renamed" }).options.retries).toBe(1);
  });
});

describe("settings", () => {
  it("reads the environment and names a bad variable", () => {
    expect(currentSettings({ BATON_API_URL: "http://h:1/api" }).apiUrl).toBe("http://h:1/api");
    expect(currentSettings({ BATON_API_URL: "" }).apiUrl).toBeUndefined();
    expect(currentSettings({}).logLevel).toBe("info");
    expect(currentSettings({ BATON_CONSOLE_LOGS: "false" }).consoleLogs).toBe(false);
    expect(() => currentSettings({ BATON_API_URL: "not a url" })).toThrow(/BATON_API_URL/);
    expect(() => currentSettings({ BATON_LOGGING_LEVEL: "loud" })).toThrow(/BATON_LOGGING_LEVEL/);
  });
});

describe("waiting for a WAIT answer", () => {
  const elapsed = async (wait: () => Promise<void>): Promise<number> => {
    const start = performance.now();
    await wait();
    return performance.now() - start;
  };

  it("sleeps only until the run's scheduled time when that is sooner than the whole-second delay", async () => {
    const now = Date.now();
    const scheduled = new Date(now + 150).toISOString();
    const ms = await elapsed(() => sleepForWait(1, scheduled, () => now));
    expect(ms).toBeGreaterThanOrEqual(140);
    expect(ms).toBeLessThan(900);
  });

  it("sleeps the server's delay when the scheduled time is unknown, past or further away", async () => {
    const now = Date.now();
    // A scheduled time already past gives no reason to second-guess the server.
    expect(await elapsed(() => sleepForWait(0.3, new Date(now - 1000).toISOString(), () => now))).toBeGreaterThanOrEqual(290);
    expect(await elapsed(() => sleepForWait(0.3, null, () => now))).toBeGreaterThanOrEqual(290);
    expect(await elapsed(() => sleepForWait(0.2, new Date(now + 60_000).toISOString(), () => now))).toBeLessThan(1000);
  });
});

describe("claimInOrder", () => {
  it("claims several at once, never more than there is room for, in order, and goes on past a failed claim", async () => {
    const runs = Array.from({ length: 40 }, (_, i) => i);
    const limit = 25;
    let won = 0;
    let inFlightPeak = 0;
    let inFlightNow = 0;
    const started: number[] = [];
    const claimed: number[] = [];
    const failed: number[] = [];
    await claimInOrder(runs, {
      hasRoom: (inFlight) => won + inFlight < limit,
      claim: async (run) => {
        started.push(run);
        inFlightPeak = Math.max(inFlightPeak, ++inFlightNow);
        await new Promise((resolve) => setTimeout(resolve, 5));
        inFlightNow--;
        if (run === 3) throw new Error("gone");
        // Every third run belongs to another claimant.
        return run % 3 === 1 ? undefined : run;
      },
      onClaimed: (run) => {
        won++;
        claimed.push(run);
      },
      onError: (run) => failed.push(run),
    });
    expect(inFlightPeak).toBe(CLAIM_CONCURRENCY);
    expect(started).toEqual([...started].sort((a, b) => a - b));
    expect(failed).toEqual([3]);
    expect(claimed).toHaveLength(limit);
    expect(claimed.every((run) => run % 3 !== 1 && run !== 3)).toBe(true);
  });
});
