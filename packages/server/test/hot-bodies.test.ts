import { randomUUID } from "node:crypto";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { Event, LogCreate } from "@baton/core";
import { isCanonicalTime, parseCommonEvents, parseCommonLogs } from "../src/validation/hot-bodies.js";

/** The hot path must give exactly what the schema gives, or step aside (undefined) for the schema. */
const Events = z.array(Event);
const Logs = z.array(LogCreate);

const event = (extra: Record<string, unknown> = {}) => ({
  id: randomUUID(),
  occurred: "2026-03-01T10:00:00.123Z",
  event: "prefect.task-run.Running",
  resource: { "prefect.resource.id": `prefect.task-run.${randomUUID()}`, "prefect.resource.name": "t-1" },
  related: [{ "prefect.resource.id": `prefect.flow-run.${randomUUID()}`, "prefect.resource.role": "flow-run", "prefect.resource.name": "f" }],
  payload: { intended: { from: "PENDING", to: "RUNNING" }, task_run: { id: randomUUID(), tags: ["a"] } },
  follows: null,
  ...extra,
});

const log = (extra: Record<string, unknown> = {}) => ({
  name: "baton.task_runs",
  level: 20,
  message: "Finished in state Completed()",
  timestamp: "2026-03-01T10:00:00.123Z",
  flow_run_id: randomUUID(),
  task_run_id: null,
  ...extra,
});

describe("hot-path body parsers", () => {
  it("parse events as the SDK sends them exactly as the Event schema does", () => {
    const { follows: _, ...withoutFollows } = event();
    const bodies = [
      [event(), event({ follows: randomUUID() })],
      [withoutFollows],
      [{ ...event(), related: undefined, payload: undefined }],
      [event({ unknown_key: 1 })],
      [event({ occurred: "2024-02-29T23:59:59.999Z" })],
      [],
    ];
    for (const body of bodies) {
      const fast = parseCommonEvents(structuredClone(body));
      expect(fast).toBeDefined();
      expect(fast).toStrictEqual(Events.parse(structuredClone(body)));
    }
  });

  it("leave everything else to the schema, valid or not", () => {
    const others = [
      event({ id: randomUUID().toUpperCase() }),
      event({ occurred: "2026-03-01T10:00:00Z" }),
      event({ occurred: "2026-03-01T11:00:00.000+01:00" }),
      event({ occurred: "2025-02-29T00:00:00.000Z" }),
      event({ occurred: "0000-01-01T00:00:00.000Z" }),
      event({ event: "" }),
      event({ resource: { "prefect.resource.name": "no id" } }),
      event({ resource: { "prefect.resource.id": "x", n: 1 } }),
      event({ related: [{ "prefect.resource.id": "x" }] }),
      event({ related: null }),
      event({ payload: [] }),
      event({ follows: "not-an-id" }),
      "not an event",
    ];
    for (const other of others) {
      expect(parseCommonEvents([other])).toBeUndefined();
      const zod = Events.safeParse([other]);
      // Those that are valid are normalised by the schema (ids lower-cased, times in UTC).
      if (zod.success) expect(zod.data[0]).not.toStrictEqual(other);
    }
    expect(parseCommonEvents({})).toBeUndefined();
  });

  it("parse logs as the SDK sends them exactly as the LogCreate schema does, and leave others to it", () => {
    const body = [log(), log({ task_run_id: randomUUID(), flow_run_id: undefined }), log({ level: 0, name: "" })];
    expect(parseCommonLogs(structuredClone(body), 10)).toStrictEqual(Logs.parse(structuredClone(body)));
    for (const other of [log({ extra: 1 }), log({ level: 20.5 }), log({ level: 101 }), log({ timestamp: "2026-03-01 10:00:00" }), log({ flow_run_id: "x" })]) {
      expect(parseCommonLogs([other], 10)).toBeUndefined();
    }
    expect(parseCommonLogs([log(), log()], 1)).toBeUndefined();
  });

  it("know a canonical timestamp from a calendar day that does not exist", () => {
    expect(isCanonicalTime("2024-02-29T00:00:00.000Z")).toBe(true);
    expect(isCanonicalTime("2000-02-29T00:00:00.000Z")).toBe(true);
    expect(isCanonicalTime("1900-02-29T00:00:00.000Z")).toBe(false);
    expect(isCanonicalTime("2026-04-31T00:00:00.000Z")).toBe(false);
    expect(isCanonicalTime("2026-12-31T23:59:59.999Z")).toBe(true);
    expect(isCanonicalTime("9999-12-31T23:59:59.999Z")).toBe(true);
    expect(isCanonicalTime("2026-13-01T00:00:00.000Z")).toBe(false);
  });
});
