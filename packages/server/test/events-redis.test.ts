import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { Redis } from "ioredis";
import type { FlowRun, ReceivedEvent } from "@baton/core";
import { DIALECTS, eventually, startTestServer, type TestServer } from "./harness.js";

const REDIS_URL = process.env.BATON_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Opens `path` on `server` with the prefect protocol, authenticates and sends `filter`; collects what comes. */
async function stream(server: TestServer, path: string, filter: unknown, backfill = false) {
  const socket = new WebSocket(`${server.apiUrl.replace(/^http/, "ws")}${path}`, ["prefect"]);
  const messages: Array<Record<string, unknown>> = [];
  socket.on("message", (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  socket.send(JSON.stringify({ type: "auth", token: null }));
  await eventually(() => messages.some((m) => m.type === "auth_success"));
  socket.send(JSON.stringify({ type: "filter", filter, backfill }));
  // Let the server's subscription be in place.
  await new Promise((resolve) => setTimeout(resolve, 100));
  return { socket, messages };
}

for (const dialect of DIALECTS) {
  describe(`events on Redis Streams, two servers sharing one stream (${dialect})`, () => {
    const prefix = `baton-test:${randomUUID().slice(0, 8)}:`;
    const config = { messaging: { broker: "redis" as const, redisUrl: REDIS_URL, redisPrefix: prefix, redisStreamMaxLength: 10_000 } };
    let one: TestServer;
    let two: TestServer;
    let redis: Redis;
    beforeAll(async () => {
      one = await startTestServer(dialect, { config });
      two = await startTestServer(dialect, { config, shareDatabaseWith: one });
      redis = new Redis(REDIS_URL);
    });
    afterAll(async () => {
      await two.close();
      await one.close();
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    });

    it("an event posted to one server is streamed by the other and persisted once", async () => {
      const resource = `baton.redis.${randomUUID()}`;
      const watcher = await stream(two, "/events/out", { resource: { id: [resource] } });
      const events = Array.from({ length: 300 }, (_, i) => ({ id: randomUUID(), occurred: new Date(Date.now() - 1000 + i).toISOString(), event: "baton.redis.e", resource: { "prefect.resource.id": resource } }));
      expect((await one.call("POST", "/events", events.slice(0, 150))).status).toBe(204);
      expect((await two.call("POST", "/events", events.slice(150))).status).toBe(204);
      await eventually(() => watcher.messages.filter((m) => m.type === "event").length >= 300, 10_000, "300 streamed events");
      const streamed = watcher.messages.filter((m) => m.type === "event").map((m) => (m.event as ReceivedEvent).id);
      expect(new Set(streamed).size).toBe(300);
      await one.persisted(events.map((e) => e.id));
      const rows = await one.db.kysely.selectFrom("event").select("id").where("resource_id", "=", resource).execute();
      expect(rows).toHaveLength(300);
      // One persister group shared by both servers; a live group for each server streaming to a websocket (only two does).
      const groups = (await redis.call("XINFO", "GROUPS", `${prefix}events`)) as unknown[][];
      const names = groups.map((g) => String(g[g.indexOf("name") + 1]));
      expect(names.filter((n) => n === "persister")).toHaveLength(1);
      expect(names.filter((n) => n.startsWith("live-"))).toHaveLength(1);
      watcher.socket.close();
    });

    it("state changes made through one server reach events/out on the other; logs reach its logs/out", async () => {
      const flow = (await one.call<{ id: string }>("POST", "/flows/", { name: "redis-flow" })).body;
      const run = (await one.call<FlowRun>("POST", "/flow_runs/", { flow_id: flow.id })).body;
      const events = await stream(two, "/events/out", { resource: { id: [`prefect.flow-run.${run.id}`] } });
      const logs = await stream(two, "/logs/out", { flow_run_id: { any_: [run.id] } });
      await one.call("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING" } });
      await one.call("POST", "/logs/", [{ name: "x", level: 20, message: "through redis", timestamp: new Date().toISOString(), flow_run_id: run.id }]);
      await eventually(() => events.messages.some((m) => m.type === "event" && (m.event as ReceivedEvent).event === "prefect.flow-run.Running"), 10_000, "the Running event");
      await eventually(() => logs.messages.some((m) => m.type === "log"), 10_000, "the log");
      expect((logs.messages.find((m) => m.type === "log")!.log as { message: string }).message).toBe("through redis");
      events.socket.close();
      logs.socket.close();
    });

    it("the streams stay bounded (XADD MAXLEN ~)", async () => {
      const length = await redis.xlen(`${prefix}events`);
      expect(length).toBeLessThan(12_000);
      await one.events.bus.trim?.();
    });
  });
}
