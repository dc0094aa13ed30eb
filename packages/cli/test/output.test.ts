import { describe, expect, it } from "vitest";
import { collectStateTypes, parseId, parseLimit } from "../src/arguments.js";
import { formatDetails, formatDuration, formatState, formatTable } from "../src/output.js";

describe("formatTable", () => {
  it("aligns columns, right-aligns the ones asked for, and leaves no trailing spaces", () => {
    const text = formatTable(
      ["ID", "NAME", "N"],
      [
        ["a", "short", "1"],
        ["bbbb", "a much longer name", "100"],
      ],
      [2],
    );
    expect(text).toBe(["ID    NAME                  N", "a     short                 1", "bbbb  a much longer name  100", ""].join("\n"));
  });

  it("formatDetails aligns values after the keys", () => {
    expect(formatDetails([["ID", "x"], ["Run count", "2"]])).toBe("ID:         x\nRun count:  2\n");
    expect(formatDetails([["ID", "x"], ["Message", "Boom\nTraceback"]])).toBe("ID:       x\nMessage:  Boom\n          Traceback\n");
  });
});

describe("formatDuration", () => {
  it.each([
    [0.25, "250ms"],
    [4.24, "4.2s"],
    [187, "3m 07s"],
    [7500, "2h 05m"],
    [null, "-"],
  ])("%s seconds -> %s", (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });
});

describe("formatState", () => {
  it("prefers the state's name, then the type's display name", () => {
    expect(formatState("SCHEDULED", "Late")).toBe("Late");
    expect(formatState("COMPLETED", null)).toBe("Completed");
    expect(formatState(null, null)).toBe("-");
  });
});

describe("argument parsers", () => {
  it("parseLimit accepts positive whole numbers only", () => {
    expect(parseLimit("25")).toBe(25);
    for (const bad of ["0", "-1", "1.5", "ten", "", "1e3"]) expect(() => parseLimit(bad)).toThrow("positive whole number");
  });

  it("parseId accepts UUIDs only", () => {
    expect(parseId("0B7E1C2A-5D3F-4A8E-9C61-2F4D8E6A1B3C")).toBe("0b7e1c2a-5d3f-4a8e-9c61-2f4d8e6a1b3c");
    expect(() => parseId("0b7e1c2a")).toThrow("Expected a UUID");
  });

  it("collectStateTypes reads any case and drops repeats", () => {
    expect(["completed", "Failed", "COMPLETED"].reduce<string[] | undefined>((acc, s) => collectStateTypes(s, acc as never), undefined)).toEqual([
      "COMPLETED",
      "FAILED",
    ]);
    expect(() => collectStateTypes("done", undefined)).toThrow("Unknown state");
  });
});
