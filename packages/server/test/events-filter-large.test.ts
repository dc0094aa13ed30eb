import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EventFilter, type EventPage, type ReceivedEvent } from "@baton/core";
import { eventMatches } from "@baton/server";
import { filterEvents } from "../src/db/queries/events.js";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/**
 * Event filters carrying lists as long as the contract allows (1,000 items per list, 5,000
 * values in all). SQLite refuses an expression nested more than 1,000 deep, so a chain of
 * 1,000 ORs (or ANDs) written one after the other is an HTTP 500; the filter must still
 * answer, and select what the live matcher selects.
 */
const DAY = "2032-04-04T00:00:00.000Z";
const at = (seconds: number) => new Date(Date.parse(DAY) + seconds * 1000).toISOString();
const RANGE = { occurred: { since: DAY, until: at(3600) } };
const many = <T = string>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => make(i));

type Labels = Record<string, string>;
const CORPUS: Record<string, { resource: Labels; related: Labels[] }> = {
  a: {
    resource: { "prefect.resource.id": "prefect.flow-run.aaa", env: "prod-eu", team: "data" },
    related: [{ "prefect.resource.id": "prefect.flow.f1", "prefect.resource.role": "flow" }],
  },
  b: {
    resource: { "prefect.resource.id": "prefect.task-run.bbb", env: "staging" },
    related: [{ "prefect.resource.id": "prefect.deployment.d1", "prefect.resource.role": "deployment", env: "prod" }],
  },
  // Prefixes count characters, not bytes, and are case-sensitive.
  u: { resource: { "prefect.resource.id": "baton.thing.ünï", env: "Ünïcode" }, related: [] },
};
const ALL = Object.keys(CORPUS);

/**
 * JSON allows a lone surrogate ("\ud800"), PostgreSQL's jsonb does not. Request bodies carrying
 * one are refused (422), but an events/out filter reaches the database unchecked, so the
 * query itself must bind lists as JSON without them.
 */
const SURROGATE_CASES: Array<[string, Record<string, unknown>, string[]]> = [
  ["1,000 prefixes with lone surrogates", { event: { prefix: [...many(999, (i) => `baton.big.\ud800${i}`), "baton.big.a"] } }, ["a"]],
  ["1,000 label prefixes with lone surrogates", { resource: { labels: { env: [...many(999, (i) => `!prod\udc00${i}*`), "!staging*"] } } }, ["a", "u"]],
  ["1,000 resources in roles with lone surrogates", { related: { resources_in_roles: [...many(999, (i) => [`prefect.flow.f1\ud800${i}`, "flow"]), ["prefect.flow.f1", "flow"]] } }, ["a"]],
  ["a related id with a lone surrogate", { related: { id: ["prefect.flow.f1\udfff", "prefect.flow.f1"] } }, ["a"]],
];

const CASES: Array<[string, Record<string, unknown>, string[]]> = [
  ["1,000 resource id prefixes", { resource: { id_prefix: [...many(999, (i) => `nope.${i}.`), "prefect.flow-run."] } }, ["a"]],
  ["1,000 any_resource id prefixes", { any_resource: { id_prefix: [...many(999, (i) => `nope.${i}.`), "prefect.deployment."] } }, ["b"]],
  ["1,000 unicode id prefixes", { any_resource: { id_prefix: [...many(999, (i) => `baton.thing.Ü${i}`), "baton.thing.ün"] } }, ["u"]],
  ["1,000 case-sensitive prefixes", { any_resource: { id_prefix: many(1000, (i) => (i === 500 ? "PREFECT." : `nope.${i}`)) } }, []],
  ["1,000 event name prefixes", { event: { prefix: [...many(999, (i) => `nope.${i}.`), "baton.big.a"] } }, ["a"]],
  ["1,000 excluded event name prefixes", { event: { exclude_prefix: [...many(999, (i) => `nope.${i}.`), "baton.big.a"] } }, ["b", "u"]],
  ["1,000 label prefixes", { resource: { labels: { env: [...many(999, (i) => `nope${i}*`), "prod*"] } } }, ["a"]],
  ["1,000 label values and prefixes", { resource: { labels: { env: [...many(500, (i) => `nope${i}`), ...many(499, (i) => `nope${i}*`), "staging"] } } }, ["b"]],
  ["1,000 negated label prefixes", { resource: { labels: { env: [...many(999, (i) => `!nope${i}*`), "!prod*"] } } }, ["b", "u"]],
  ["1,000 negated label values", { resource: { labels: { env: [...many(999, (i) => `!nope${i}`), "!staging"] } } }, ["a", "u"]],
  ["1,000 related label prefixes", { related: { labels: { env: [...many(999, (i) => `nope${i}*`), "pro*"] } } }, ["b"]],
  ["1,000 any_resource label prefixes", { any_resource: { labels: { env: [...many(999, (i) => `nope${i}*`), "Ün*"] } } }, ["u"]],
  ["1,500 labels, all required", { resource: { labels: Object.fromEntries(many(1500, (i) => `label${i}`).map((l) => [l, "*"])) } }, []],
  [
    "1,000 resources in roles",
    { related: { resources_in_roles: [...many(999, (i) => [`prefect.flow.f${i + 2}`, "flow"]), ["prefect.flow.f1", "flow"]] } },
    ["a"],
  ],
  ["1,000 resources in roles, none in its role", { related: { resources_in_roles: many(1000, (i) => [`prefect.flow.f${i + 1}`, "deployment"]) } }, []],
  ["1,000 related ids and roles", { related: { id: [...many(999, (i) => `x.${i}`), "prefect.deployment.d1"], role: [...many(999, (i) => `r${i}`), "deployment"] } }, ["b"]],
  ["1,000 event ids", { id: { id: many(1000, () => randomUUID()) } }, []],
];

for (const dialect of DIALECTS) {
  describe(`event filters with 1,000-item lists (${dialect})`, () => {
    let server: TestServer;
    let stored: ReceivedEvent[] = [];
    const keyOf = (event: ReceivedEvent) => event.event.replace(/^baton\.big\./, "");
    const filter = (body: unknown) => server.call<EventPage>("POST", "/events/filter", body);

    beforeAll(async () => {
      // A small body limit, so one test can pass it without sending megabytes.
      server = await startTestServer(dialect, { config: { bodyLimitBytes: 512 * 1024 } });
      const batch = Object.entries(CORPUS).map(([key, { resource, related }], i) => ({ id: randomUUID(), occurred: at(i), event: `baton.big.${key}`, resource, related }));
      expect((await server.call("POST", "/events", batch)).status).toBe(204);
      await server.persisted(batch.map((e) => e.id));
      stored = (await filter({ filter: RANGE })).body.events;
      expect(stored.map(keyOf).sort()).toEqual([...ALL].sort());
    });
    afterAll(() => server.close());

    it.each(CASES)("%s: answered, and as the live matcher answers", async (_, criteria, expected) => {
      const body = { filter: { ...RANGE, ...criteria } };
      const page = await filter(body);
      expect(page.status, JSON.stringify(page.body).slice(0, 500)).toBe(200);
      expect(page.body.events.map(keyOf).sort()).toEqual([...expected].sort());
      expect(page.body.total).toBe(expected.length);
      const parsed = EventFilter.parse(body.filter);
      expect(stored.filter((event) => eventMatches(parsed, event)).map(keyOf).sort()).toEqual([...expected].sort());
      const counted = await server.call<Array<{ count: number }>>("POST", "/events/count-by/event", body);
      expect(counted.status).toBe(200);
      expect(counted.body.reduce((n, c) => n + c.count, 0)).toBe(expected.length);
    });

    it.each(SURROGATE_CASES)("%s: answered by the query, as the live matcher answers; refused over HTTP", async (_, criteria, expected) => {
      const parsed = EventFilter.parse({ ...RANGE, ...criteria });
      const page = await filterEvents(server.db, parsed, { limit: 50, offset: 0 });
      expect(page.events.map(keyOf).sort()).toEqual([...expected].sort());
      expect(stored.filter((event) => eventMatches(parsed, event)).map(keyOf).sort()).toEqual([...expected].sort());
      const refused = await filter({ filter: { ...RANGE, ...criteria } });
      expect(refused.status).toBe(422);
      expect(JSON.stringify(refused.body)).toMatch(/body\.filter\..*lone surrogate/);
    });

    it("a request body over the size limit is a 413, not a 500", async () => {
      const huge = { filter: { ...RANGE, resource: { id_prefix: many(1000, (i) => `${"x".repeat(2000)}${i}`) } } };
      const response = await fetch(`${server.apiUrl}/events/filter`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(huge) });
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
    });
  });
}
