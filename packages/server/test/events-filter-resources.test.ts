import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { EventFilter, type EventCount, type EventPage, type ReceivedEvent } from "@baton/core";
import { eventMatches } from "@baton/server";
import { DIALECTS, eventually, startTestServer, type TestServer } from "./harness.js";

/**
 * The `resource.labels`, `related` and `any_resource` criteria of an event filter, one table
 * of cases run twice: by `POST /events/filter` (SQL) and by `eventMatches` (what `events/out`
 * applies to live events). Both must select exactly the expected events.
 */
const DAY = "2032-03-03T00:00:00.000Z";
const at = (seconds: number) => new Date(Date.parse(DAY) + seconds * 1000).toISOString();
const RANGE = { occurred: { since: DAY, until: at(3600) } };

type Labels = Record<string, string>;
const flow = (id: string, extra: Labels = {}): Labels => ({ "prefect.resource.id": id, "prefect.resource.role": "flow", ...extra });

/** The events, by a short key that the expectations name. */
const CORPUS: Record<string, { resource: Labels; related: Labels[] }> = {
  a: {
    resource: { "prefect.resource.id": "prefect.flow-run.a", "prefect.resource.name": "alpha", env: "prod", team: "data" },
    related: [
      flow("prefect.flow.f1", { "prefect.resource.name": "etl" }),
      { "prefect.resource.id": "prefect.deployment.d1", "prefect.resource.role": "deployment", env: "prod" },
      { "prefect.resource.id": "prefect.tag.nightly", "prefect.resource.role": "tag" },
    ],
  },
  b: {
    resource: { "prefect.resource.id": "prefect.flow-run.b", "prefect.resource.name": "beta", env: "staging" },
    related: [flow("prefect.flow.f1", { "prefect.resource.name": "etl" }), { "prefect.resource.id": "prefect.tag.adhoc", "prefect.resource.role": "tag" }],
  },
  c: {
    resource: { "prefect.resource.id": "prefect.task-run.c", "prefect.resource.name": "gamma" },
    related: [{ "prefect.resource.id": "prefect.flow-run.a", "prefect.resource.role": "flow-run" }, flow("prefect.flow.f2", { "prefect.resource.name": "report" })],
  },
  pool: { resource: { "prefect.resource.id": "prefect.work-pool.p", env: "prod-eu" }, related: [] },
  // Label names that a naive JSON path or a plain object lookup would misread.
  w: {
    resource: { "prefect.resource.id": "baton.thing.w", "$.env": "dollar", "a.b": "dotted", 'q"uote': "x", constructor: "c" },
    related: [flow("prefect.deployment.d1")],
  },
  u: {
    resource: { "prefect.resource.id": "baton.thing.ü", "prefect.resource.name": "Ünïcode" },
    related: [{ "prefect.resource.id": "prefect.flow.f1", "prefect.resource.role": "tag" }],
  },
};
const ALL = Object.keys(CORPUS);

/** A filter's resource criteria, and the keys of the events it selects. */
const CASES: Array<[string, Record<string, unknown>, string[]]> = [
  // resource.labels
  ["one value", { resource: { labels: { env: "prod" } } }, ["a"]],
  ["a list of values", { resource: { labels: { env: ["prod", "staging"] } } }, ["a", "b"]],
  ["a prefix", { resource: { labels: { env: "prod*" } } }, ["a", "pool"]],
  ["values and prefixes together", { resource: { labels: { env: ["staging", "prod-*"] } } }, ["b", "pool"]],
  ["a negation needs the label", { resource: { labels: { env: "!prod" } } }, ["b", "pool"]],
  ["several negations exclude each", { resource: { labels: { env: ["!prod", "!staging"] } } }, ["pool"]],
  ["a prefix less a negated value", { resource: { labels: { env: ["prod*", "!prod-eu"] } } }, ["a"]],
  ["a negated prefix", { resource: { labels: { env: "!prod*" } } }, ["b"]],
  ["any value", { resource: { labels: { env: "*" } } }, ["a", "b", "pool"]],
  ["an empty list matches nothing", { resource: { labels: { env: [] } } }, []],
  ["every label must match", { resource: { labels: { env: "prod", team: "data" } } }, ["a"]],
  ["every label must match (no)", { resource: { labels: { env: "prod", team: "ops" } } }, []],
  ["values are case-sensitive", { resource: { labels: { env: "PROD" } } }, []],
  ["prefixes are case-sensitive", { resource: { labels: { "prefect.resource.name": "ün*" } } }, []],
  ["a unicode prefix", { resource: { labels: { "prefect.resource.name": "Ün*" } } }, ["u"]],
  ["the id label by prefix", { resource: { labels: { "prefect.resource.id": "prefect.flow-run.*" } } }, ["a", "b"]],
  ["the id label negated", { resource: { labels: { "prefect.resource.id": "!prefect.flow-run.*" } } }, ["c", "pool", "w", "u"]],
  ["a label named like a JSON path", { resource: { labels: { "$.env": "dollar" } } }, ["w"]],
  ["a dotted label", { resource: { labels: { "a.b": "dotted" } } }, ["w"]],
  ["a label with a quote", { resource: { labels: { 'q"uote': "x" } } }, ["w"]],
  ["a label named like an object property", { resource: { labels: { constructor: "*" } } }, ["w"]],
  ["no labels constrain nothing", { resource: { labels: {} } }, ALL],
  ["labels with id_prefix", { resource: { id_prefix: ["prefect.flow-run."], labels: { env: "!prod" } } }, ["b"]],
  // related
  ["related by id", { related: { id: ["prefect.flow.f1"] } }, ["a", "b", "u"]],
  ["related by role", { related: { role: ["flow"] } }, ["a", "b", "c", "w"]],
  ["related by another role", { related: { role: ["deployment"] } }, ["a"]],
  ["a resource in a role", { related: { resources_in_roles: [["prefect.deployment.d1", "deployment"]] } }, ["a"]],
  ["resources in roles, either pair", { related: { resources_in_roles: [["prefect.deployment.d1", "flow"], ["prefect.flow.f2", "flow"]] } }, ["c", "w"]],
  ["id and role on one resource", { related: { id: ["prefect.deployment.d1"], role: ["flow"] } }, ["w"]],
  ["id and role on different resources do not match", { related: { id: ["prefect.flow.f1"], role: ["deployment"] } }, []],
  ["related labels", { related: { labels: { "prefect.resource.role": "tag", "prefect.resource.id": "prefect.tag.n*" } } }, ["a"]],
  ["related labels negated", { related: { labels: { "prefect.resource.name": "!etl" } } }, ["c"]],
  ["related labels beside the id and role", { related: { labels: { env: "prod" } } }, ["a"]],
  ["related role and labels on one resource", { related: { role: ["tag"], labels: { env: "prod" } } }, []],
  ["a list of related criteria, all of them", { related: [{ role: ["flow"] }, { role: ["tag"] }] }, ["a", "b"]],
  ["related with nothing set constrains nothing", { related: {} }, ALL],
  ["an empty id list matches nothing", { related: { id: [] } }, []],
  ["an empty pair list matches nothing", { related: { resources_in_roles: [] } }, []],
  ["the event's own resource is not related", { related: { id: ["prefect.flow-run.a"] } }, ["c"]],
  // any_resource
  ["any resource by id, own or related", { any_resource: { id: ["prefect.flow-run.a"] } }, ["a", "c"]],
  ["any resource by prefix", { any_resource: { id_prefix: ["prefect.deployment."] } }, ["a", "w"]],
  ["any resource by labels", { any_resource: { labels: { env: "prod" } } }, ["a"]],
  ["any resource by a related label", { any_resource: { labels: { "prefect.resource.name": "etl" } } }, ["a", "b"]],
  ["any resource: prefix and labels on one resource", { any_resource: { id_prefix: ["prefect.flow."], labels: { "prefect.resource.name": "report" } } }, ["c"]],
  ["any resource: id and labels on one resource", { any_resource: { id: ["prefect.flow-run.a"], labels: { "prefect.resource.name": "alpha" } } }, ["a"]],
  ["any resource by role label", { any_resource: { labels: { "prefect.resource.role": "flow" } } }, ["a", "b", "c", "w"]],
  ["a list of any_resource criteria", { any_resource: [{ id_prefix: ["prefect.flow."] }, { labels: { env: "prod*" } }] }, ["a"]],
  ["any_resource with nothing set", { any_resource: {} }, ALL],
  ["an empty prefix list matches nothing", { any_resource: { id_prefix: [] } }, []],
  // all three at once
  [
    "resource, related and any_resource together",
    { resource: { labels: { "prefect.resource.id": "prefect.flow-run.*" } }, related: { role: ["tag"] }, any_resource: { labels: { env: "staging" } } },
    ["b"],
  ],
];

for (const dialect of DIALECTS) {
  describe(`event filter by labels, related and any resource (${dialect})`, () => {
    let server: TestServer;
    const ids = new Map<string, string>();
    let stored: ReceivedEvent[] = [];
    const keyOf = (event: ReceivedEvent) => event.event.replace(/^baton\.rf\./, "");
    const filter = (body: unknown) => server.call<EventPage>("POST", "/events/filter", body);

    beforeAll(async () => {
      server = await startTestServer(dialect);
      const batch = Object.entries(CORPUS).map(([key, { resource, related }], i) => {
        const id = randomUUID();
        ids.set(key, id);
        return { id, occurred: at(i), event: `baton.rf.${key}`, resource, related };
      });
      expect((await server.call("POST", "/events", batch)).status).toBe(204);
      await server.persisted(batch.map((e) => e.id));
      stored = (await filter({ filter: RANGE })).body.events;
      expect(stored.map(keyOf).sort()).toEqual([...ALL].sort());
    });
    afterAll(() => server.close());

    it.each(CASES)("%s: the SQL filter and the live matcher select the same events", async (_, criteria, expected) => {
      const body = { filter: { ...RANGE, ...criteria } };
      const page = await filter(body);
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      expect(page.body.events.map(keyOf).sort()).toEqual([...expected].sort());
      expect(page.body.total).toBe(expected.length);
      const parsed = EventFilter.parse(body.filter);
      expect(stored.filter((event) => eventMatches(parsed, event)).map(keyOf).sort()).toEqual([...expected].sort());
    });

    it("count-by and filter/next honour the criteria", async () => {
      const byEvent = await server.call<EventCount[]>("POST", "/events/count-by/event", { filter: { ...RANGE, related: { id: ["prefect.flow.f1"] } } });
      expect(byEvent.status).toBe(200);
      expect(byEvent.body.map((c) => c.value).sort()).toEqual(["baton.rf.a", "baton.rf.b", "baton.rf.u"]);
      const byDay = await server.call<EventCount[]>("POST", "/events/count-by/day", { filter: { ...RANGE, any_resource: { id_prefix: ["prefect.deployment."] } } });
      expect(byDay.body.reduce((n, c) => n + c.count, 0)).toBe(2);

      const first = await filter({ filter: { ...RANGE, related: { role: ["flow"] }, order: "ASC" }, limit: 1 });
      const seen = first.body.events.map(keyOf);
      let next = first.body.next_page;
      while (next) {
        const page = (await (await fetch(next)).json()) as EventPage;
        seen.push(...page.events.map(keyOf));
        next = page.next_page;
      }
      expect(seen).toEqual(["a", "b", "c", "w"]);
    });

    it("events/out streams only the live events that meet the criteria", async () => {
      const socket = new WebSocket(`${server.apiUrl.replace(/^http/, "ws")}/events/out`, ["prefect"]);
      const received: Array<Record<string, unknown>> = [];
      socket.on("message", (data) => received.push(JSON.parse(String(data)) as Record<string, unknown>));
      try {
        await new Promise<void>((resolve, reject) => socket.once("open", () => resolve()).once("error", reject));
        socket.send(JSON.stringify({ type: "auth", token: null }));
        await eventually(() => received.some((m) => m.type === "auth_success"), 10_000, "auth_success");
        const run = `prefect.flow-run.${randomUUID()}`;
        const live = { event: { prefix: ["baton.rf-live."] }, related: { resources_in_roles: [["prefect.flow.f1", "flow"]] }, any_resource: { id: [run] } };
        socket.send(JSON.stringify({ type: "filter", filter: live, backfill: false }));
        // The subscription is in place once a first matching event comes through.
        const probe = (name: string, related: Labels[], resource = run) => ({ id: randomUUID(), occurred: new Date().toISOString(), event: `baton.rf-live.${name}`, resource: { "prefect.resource.id": resource }, related });
        const f1 = flow("prefect.flow.f1");
        await eventually(async () => {
          await server.call("POST", "/events", [probe("ready", [f1])]);
          return received.some((m) => m.type === "event");
        }, 10_000, "the first live event");
        await server.call("POST", "/events", [
          probe("wrong-role", [{ ...f1, "prefect.resource.role": "tag" }]),
          probe("other-run", [f1], `prefect.flow-run.${randomUUID()}`),
          probe("as-related", [f1, { "prefect.resource.id": run, "prefect.resource.role": "flow-run" }], "baton.thing.x"),
          probe("last", [f1]),
        ]);
        await eventually(() => received.some((m) => (m.event as ReceivedEvent | undefined)?.event === "baton.rf-live.last"), 10_000, "the last live event");
        const names = received.filter((m) => m.type === "event").map((m) => (m.event as ReceivedEvent).event);
        expect(names.filter((n) => n !== "baton.rf-live.ready")).toEqual(["baton.rf-live.as-related", "baton.rf-live.last"]);
      } finally {
        socket.terminate();
      }
    });

    it("refuses bad criteria with a 422 that names the field", async () => {
      const expect422 = async (criteria: unknown, ...fragments: string[]) => {
        const response = await server.call<{ exception_message: string }>("POST", "/events/filter", { filter: criteria });
        expect(response.status, JSON.stringify(response.body)).toBe(422);
        for (const fragment of fragments) expect(response.body.exception_message).toContain(fragment);
      };
      await expect422({ resource: { labels: { env: 5 } } }, "body.filter.resource.labels.env", "a string or a list of strings");
      await expect422({ resource: { labels: { env: ["prod", 5] } } }, "body.filter.resource.labels.env");
      await expect422({ resource: { labels: ["env"] } }, "body.filter.resource.labels");
      await expect422({ related: { ids: ["x"] } }, "body.filter.related", "ids");
      await expect422({ related: [{ role: ["flow"] }, { labels: { env: { no: 1 } } }] }, "body.filter.related", "1.labels.env");
      await expect422({ related: { resources_in_roles: [["only-an-id"]] } }, "body.filter.related", "resources_in_roles.0");
      await expect422({ related: { role: "flow" } }, "body.filter.related", "role");
      await expect422({ related: 5 }, "body.filter.related");
      await expect422({ any_resource: { id: ["x"], role: ["flow"] } }, "body.filter.any_resource", "role");
      await expect422({ any_resource: { labels: { "prefect.resource.id": null } } }, "body.filter.any_resource", "labels.prefect.resource.id");
      await expect422({ related: Array.from({ length: 51 }, () => ({ role: ["flow"] })) }, "body.filter.related");
      await expect422({ any_resource: Array.from({ length: 6 }, () => ({ id: Array.from({ length: 1000 }, (_, i) => `x.${i}`) })) }, "body.filter", "more than 5000");
      await expect422({ text: { query: "x" } }, "body.filter.text");
    });
  });
}
