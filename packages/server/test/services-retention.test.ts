import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices } from "@baton/server";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

for (const dialect of DIALECTS) {
  describe(`retention service (${dialect})`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    it("deletes events and logs older than their retention, and keeps the rest", async () => {
      const now = new Date("2032-06-01T00:00:00.000Z");
      const daysAgo = (days: number) => new Date(now.getTime() - days * 86_400_000).toISOString();
      const flow = (await server.call<{ id: string }>("POST", "/flows/", { name: "retention-flow" })).body;
      const run = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.id })).body;
      const events = [10, 8, 6, 1].map((days) => ({ id: randomUUID(), occurred: daysAgo(days), event: "baton.retention", resource: { "prefect.resource.id": "baton.retention.r" } }));
      await server.call("POST", "/events", events);
      await server.persisted(events.map((e) => e.id));
      const logs = [40, 31, 29, 2].map((days) => ({ name: "r", level: 20, message: `${days} days`, timestamp: daysAgo(days), flow_run_id: run.id }));
      expect((await server.call("POST", "/logs/", logs)).status).toBe(201);

      const config = { ...server.config, eventsRetentionDays: 7, logsRetentionDays: 30 };
      const [service] = createServices({ db: server.db, config, events: server.events, clock: { now: () => now }, logger: quiet }, ["retention"]);
      expect(service!.name).toBe("retention");
      await service!.runOnce();

      const left = await server.db.kysely.selectFrom("event").select("occurred").where("event", "=", "baton.retention").orderBy("occurred").execute();
      expect(left.map((e) => e.occurred)).toEqual([daysAgo(6), daysAgo(1)]);
      const kept = await server.call<Array<{ message: string }>>("POST", "/logs/filter", { logs: { flow_run_id: { any_: [run.id] } } });
      expect(kept.body.map((l) => l.message)).toEqual(["29 days", "2 days"]);

      // A retention of 0 keeps everything.
      const [keepAll] = createServices({ db: server.db, config: { ...config, eventsRetentionDays: 0, logsRetentionDays: 0 }, events: server.events, clock: { now: () => new Date("2040-01-01T00:00:00Z") }, logger: quiet }, ["retention"]);
      await keepAll!.runOnce();
      expect(await server.db.kysely.selectFrom("event").select("id").where("event", "=", "baton.retention").execute()).toHaveLength(2);
    });
  });
}
