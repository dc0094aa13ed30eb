import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventCount } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

for (const dialect of DIALECTS) {
  describe(`events/count-by (${dialect})`, () => {
    let server: TestServer;
    const base = Date.parse("2031-02-03T10:00:00.000Z");
    const at = (minutes: number) => new Date(base + minutes * 60_000).toISOString();
    const range = { occurred: { since: at(0), until: at(180) } };
    beforeAll(async () => {
      server = await startTestServer(dialect);
      const event = (name: string, resource: Record<string, string>, minutes: number) => ({ id: randomUUID(), occurred: at(minutes), event: name, resource });
      const batch = [
        event("baton.count.a", { "prefect.resource.id": "baton.r.1", "prefect.resource.name": "first" }, 5),
        event("baton.count.a", { "prefect.resource.id": "baton.r.1", "prefect.resource.name": "first" }, 70),
        event("baton.count.b", { "prefect.resource.id": "baton.r.2" }, 75),
        event("baton.count.a", { "prefect.resource.id": "baton.r.2" }, 170),
      ];
      await server.call("POST", "/events", batch);
      await server.persisted(batch.map((e) => e.id));
    });
    afterAll(() => server.close());
    const count = (countable: string, body: unknown) => server.call<EventCount[]>("POST", `/events/count-by/${countable}`, body);

    it("counts by event name and by resource", async () => {
      const byEvent = await count("event", { filter: range });
      expect(byEvent.status).toBe(200);
      expect(byEvent.body).toEqual([
        { value: "baton.count.a", label: "baton.count.a", count: 3, start_time: at(5), end_time: at(170) },
        { value: "baton.count.b", label: "baton.count.b", count: 1, start_time: at(75), end_time: at(75) },
      ]);
      const byResource = await count("resource", { filter: { ...range, event: { name: ["baton.count.a"] } } });
      expect(byResource.body.map((c) => [c.value, c.label, c.count])).toEqual([
        ["baton.r.1", "first", 2],
        ["baton.r.2", "baton.r.2", 1],
      ]);
    });

    it("counts by time bucket, empty buckets included, and by day", async () => {
      const byHour = await count("time", { filter: range, time_unit: "hour", time_interval: 1 });
      expect(byHour.body.map((c) => [c.start_time, c.count])).toEqual([
        [at(0), 1],
        [at(60), 2],
        [at(120), 1],
      ]);
      expect(byHour.body[0]!.end_time).toBe(new Date(base + 3600_000 - 1).toISOString());
      const byDay = await count("day", { filter: range });
      expect(byDay.body).toHaveLength(1);
      expect(byDay.body[0]).toMatchObject({ start_time: "2031-02-03T00:00:00.000Z", count: 4 });
    });

    it("refuses bad counts with a 422 naming the field", async () => {
      expect((await count("color", { filter: range })).status).toBe(422);
      const tooMany = await count("time", { filter: range, time_unit: "second", time_interval: 1 });
      expect(tooMany.status).toBe(422);
      expect((tooMany.body as unknown as { exception_message: string }).exception_message).toMatch(/time_interval/);
      const message = (response: { body: unknown }) => (response.body as { exception_message: string }).exception_message;
      const unknown = await count("color", { filter: range });
      expect(message(unknown)).toMatch(/countable/);
      expect(message(unknown)).toMatch(/day|time|event|resource/);
      for (const time_unit of ["fortnight", "", 5, null, ["hour"]]) {
        const badUnit = await count("time", { filter: range, time_unit, time_interval: 1 });
        expect(badUnit.status, JSON.stringify(time_unit)).toBe(422);
        expect(message(badUnit)).toMatch(/body\.time_unit/);
      }
      for (const time_interval of [0, -1, "soon", null]) {
        const badInterval = await count("time", { filter: range, time_unit: "hour", time_interval });
        expect(badInterval.status, JSON.stringify(time_interval)).toBe(422);
        expect(message(badInterval)).toMatch(/time_interval/);
      }
      // A bad filter inside a count is named as in POST /events/filter.
      const badFilter = await count("event", { filter: { ...range, related: { resources_in_roles: [["only-an-id"]] } } });
      expect(badFilter.status).toBe(422);
      expect(message(badFilter)).toMatch(/body\.filter\.related/);
      // And the server goes on counting.
      expect((await count("event", { filter: range })).status).toBe(200);
      const noFilter = await count("event", {});
      expect(noFilter.status).toBe(422);
      expect((noFilter.body as unknown as { exception_message: string }).exception_message).toMatch(/body\.filter/);
    });
  });
}
