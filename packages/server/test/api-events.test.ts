import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventPage, FlowRun } from "@baton/core";
import { DIALECTS, eventually, startTestServer, type TestServer } from "./harness.js";

interface ValidationError {
  exception_message: string;
}

for (const dialect of DIALECTS) {
  describe(`events API (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "events-flow" })).body.id;
    });
    afterAll(() => server.close());

    const at = (iso: string, seconds: number) => new Date(Date.parse(iso) + seconds * 1000).toISOString();
    const base = "2030-01-01T00:00:00.000Z";
    const event = (name: string, resourceId: string, occurred: string, extra: Record<string, unknown> = {}) => ({
      id: randomUUID(),
      occurred,
      event: name,
      resource: { "prefect.resource.id": resourceId },
      ...extra,
    });
    const filter = (body: unknown) => server.call<EventPage>("POST", "/events/filter", body);
    const lastHeartbeat = async (id: string) =>
      (await server.db.kysely.selectFrom("flow_run").select("last_heartbeat").where("id", "=", id).executeTakeFirstOrThrow()).last_heartbeat;

    it("stores a batch of events once, however often it is sent, and reads it back", async () => {
      const related = [{ "prefect.resource.id": `prefect.flow.${flowId}`, "prefect.resource.role": "flow" }];
      const batch = [
        event("baton.test.one", "baton.thing.a", at(base, 1), { related, payload: { n: 1 } }),
        event("baton.test.two", "baton.thing.b", at(base, 2), { follows: null }),
      ];
      expect((await server.call("POST", "/events", batch)).status).toBe(204);
      expect((await server.call("POST", "/events", batch)).status).toBe(204);
      // The same id twice in one batch too.
      expect((await server.call("POST", "/events", [batch[0], batch[0]])).status).toBe(204);
      await server.persisted(batch.map((e) => e.id));

      // Without an upper bound the filter stops at now, as Prefect's does; these events are in 2030.
      expect((await filter({ filter: { event: { prefix: ["baton.test."] } } })).body.total).toBe(0);
      const page = await filter({ filter: { occurred: { since: base, until: at(base, 3600) }, event: { prefix: ["baton.test."] }, order: "ASC" } });
      expect(page.status).toBe(200);
      expect(page.body.total).toBe(2);
      expect(page.body.next_page).toBeNull();
      const [first, second] = page.body.events;
      expect(first).toMatchObject({ id: batch[0]!.id, event: "baton.test.one", occurred: at(base, 1), related, payload: { n: 1 }, follows: null });
      expect(first?.resource).toEqual({ "prefect.resource.id": "baton.thing.a" });
      expect(typeof first?.received).toBe("string");
      expect(second?.id).toBe(batch[1]!.id);
    });

    it("moves a flow run's last heartbeat forward, never back, from heartbeat events", async () => {
      const run = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, state: { type: "RUNNING" } })).body;
      const resource = `prefect.flow-run.${run.id}`;
      const heartbeat = (occurred: string) => event("prefect.flow-run.heartbeat", resource, occurred);
      expect(await lastHeartbeat(run.id)).toBeNull();

      // The latest of a batch wins, whatever the order inside it.
      await server.call("POST", "/events", [heartbeat(at(base, 20)), heartbeat(at(base, 30)), heartbeat(at(base, 10))]);
      expect(await lastHeartbeat(run.id)).toBe(at(base, 30));
      await server.call("POST", "/events", [heartbeat(at(base, 5))]);
      expect(await lastHeartbeat(run.id)).toBe(at(base, 30));
      // Other events about the run are not heartbeats.
      await server.call("POST", "/events", [event("prefect.flow-run.Running", resource, at(base, 99))]);
      expect(await lastHeartbeat(run.id)).toBe(at(base, 30));
      // Clients may write the run's id in upper case.
      await server.call("POST", "/events", [event("prefect.flow-run.heartbeat", `prefect.flow-run.${run.id.toUpperCase()}`, at(base, 40))]);
      expect(await lastHeartbeat(run.id)).toBe(at(base, 40));

      // A heartbeat for a run that does not exist is stored and changes nothing.
      expect((await server.call("POST", "/events", [event("prefect.flow-run.heartbeat", `prefect.flow-run.${randomUUID()}`, at(base, 50))])).status).toBe(204);
      const heartbeats = { filter: { occurred: { since: base, until: at(base, 3600) }, resource: { id: [resource] }, event: { name: ["prefect.flow-run.heartbeat"] } } };
      await eventually(async () => (await filter(heartbeats)).body.total === 4);
    });

    it("filters by time, name, resource and id, and pages with next_page", async () => {
      const day = "2031-05-05T00:00:00.000Z";
      const batch = Array.from({ length: 5 }, (_, i) => event(i % 2 === 0 ? "baton.page.even" : "baton.page.odd", `baton.page.r${i}`, at(day, i)));
      await server.call("POST", "/events", batch);
      await server.persisted(batch.map((e) => e.id));
      const inDay = { occurred: { since: day, until: at(day, 3600) } };

      const newestFirst = await filter({ filter: inDay });
      expect(newestFirst.body.events.map((e) => e.occurred)).toEqual([4, 3, 2, 1, 0].map((i) => at(day, i)));
      expect((await filter({ filter: { ...inDay, occurred: { since: at(day, 1), until: at(day, 2) } } })).body.total).toBe(2);
      expect((await filter({ filter: { ...inDay, event: { name: ["baton.page.odd"] } } })).body.total).toBe(2);
      expect((await filter({ filter: { ...inDay, event: { exclude_name: ["baton.page.odd"] } } })).body.total).toBe(3);
      expect((await filter({ filter: { ...inDay, event: { prefix: ["baton.page.e", "nothing."] } } })).body.total).toBe(3);
      expect((await filter({ filter: { ...inDay, event: { exclude_prefix: ["baton.page.e"] } } })).body.total).toBe(2);
      // Prefixes match case-sensitively (SQLite's LIKE would not).
      expect((await filter({ filter: { ...inDay, event: { prefix: ["BATON.page"] } } })).body.total).toBe(0);
      expect((await filter({ filter: { ...inDay, resource: { id: ["baton.page.r1", "baton.page.r4"] } } })).body.total).toBe(2);
      expect((await filter({ filter: { ...inDay, resource: { id_prefix: ["baton.page.r"] } } })).body.total).toBe(5);
      expect((await filter({ filter: { ...inDay, id: { id: [batch[2]!.id] } } })).body.events.map((e) => e.id)).toEqual([batch[2]!.id]);

      const first = await filter({ filter: { ...inDay, order: "ASC" }, limit: 2 });
      expect(first.body.total).toBe(5);
      expect(first.body.events.map((e) => e.id)).toEqual([batch[0]!.id, batch[1]!.id]);
      const seen = [...first.body.events];
      let next = first.body.next_page;
      while (next) {
        expect(next).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/api\/events\/filter\/next\?page-token=/);
        const page = (await (await fetch(next)).json()) as EventPage;
        seen.push(...page.events);
        next = page.next_page;
      }
      expect(seen.map((e) => e.id)).toEqual(batch.map((e) => e.id));
    });

    it("refuses bad events and filters with a 422 that names the field", async () => {
      const expect422 = async (path: string, body: unknown, field: string) => {
        const response = await server.call<ValidationError>("POST", path, body);
        expect(response.status, JSON.stringify(response.body)).toBe(422);
        expect(response.body.exception_message).toContain(field);
      };
      const good = event("baton.bad", "baton.thing", base);
      await expect422("/events", good, "body");
      await expect422("/events", [{ ...good, occurred: "yesterday" }], "body.0.occurred");
      await expect422("/events", [{ ...good, id: "not-a-uuid" }], "body.0.id");
      await expect422("/events", [{ ...good, event: "" }], "body.0.event");
      await expect422("/events", [{ ...good, resource: { name: "no id" } }], "prefect.resource.id");
      await expect422("/events", [{ ...good, resource: { "prefect.resource.id": 5 } }], "body.0.resource");
      await expect422("/events", [good, { ...good, related: [{ "prefect.resource.id": "x" }] }], "body.1.related.0");
      await expect422("/events", [{ ...good, payload: [] }], "body.0.payload");
      await expect422("/events/filter", { filter: { any_resource: { ids: ["x"] } } }, "body.filter.any_resource");
      await expect422("/events/filter", { filter: { occurred: { since: "soon" } } }, "body.filter.occurred.since");
      await expect422("/events/filter", { limit: 51 }, "body.limit");
      await expect422("/events/filter", { filter: { resource: { distinct: true } } }, "body.filter.resource.distinct");
      const token = await server.call<ValidationError>("GET", "/events/filter/next?page-token=garbage");
      expect(token.status).toBe(422);
      expect(token.body.exception_message).toContain("page-token");
      expect((await server.call<ValidationError>("GET", "/events/filter/next")).status).toBe(422);
      // Nothing of the refused batches was stored.
      expect((await filter({ filter: { occurred: { since: base, until: at(base, 3600) }, event: { name: ["baton.bad"] } } })).body.total).toBe(0);
    });
  });
}
