import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import type { FlowRun, ReceivedEvent } from "@baton/core";
import { DIALECTS, eventually, startTestServer, type TestServer } from "./harness.js";

/** A websocket client that keeps every message it receives. */
class Client {
  readonly messages: Array<Record<string, unknown>> = [];
  closed: { code: number; reason: string } | undefined;
  readonly socket: WebSocket;
  readonly open: Promise<void>;

  constructor(url: string, protocols: string[] = ["prefect"]) {
    this.socket = new WebSocket(url, protocols);
    this.socket.on("message", (data) => this.messages.push(JSON.parse(String(data)) as Record<string, unknown>));
    this.socket.on("close", (code, reason) => (this.closed = { code, reason: String(reason) }));
    this.open = new Promise((resolve, reject) => {
      this.socket.once("open", () => resolve());
      this.socket.once("error", reject);
    });
  }

  send(value: unknown): void {
    this.socket.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  of(type: string): Array<Record<string, unknown>> {
    return this.messages.filter((m) => m.type === type);
  }

  events(): ReceivedEvent[] {
    return this.of("event").map((m) => m.event as ReceivedEvent);
  }

  async waitFor(check: (client: Client) => boolean, what = "messages"): Promise<void> {
    await eventually(() => check(this), 10_000, what);
  }

  close(): void {
    this.socket.close();
  }
}

for (const dialect of DIALECTS) {
  describe(`event and log websockets (${dialect})`, () => {
    let server: TestServer;
    let ws: string;
    const clients: Client[] = [];
    const connect = async (path: string, protocols?: string[]) => {
      const client = new Client(`${ws}${path}`, protocols);
      clients.push(client);
      await client.open;
      return client;
    };
    /** An events/out (or logs/out) client past auth, with its filter sent. */
    const subscribe = async (path: string, filter: unknown, extra: Record<string, unknown> = {}) => {
      const client = await connect(path);
      client.send({ type: "auth", token: null });
      await client.waitFor((c) => c.of("auth_success").length === 1, "auth_success");
      client.send({ type: "filter", filter, ...extra });
      return client;
    };
    const event = (name: string, resourceId: string, extra: Record<string, unknown> = {}) => ({
      id: randomUUID(),
      occurred: new Date().toISOString(),
      event: name,
      resource: { "prefect.resource.id": resourceId },
      ...extra,
    });

    beforeAll(async () => {
      server = await startTestServer(dialect);
      ws = server.apiUrl.replace(/^http/, "ws");
    });
    afterAll(async () => {
      for (const client of clients) client.socket.terminate();
      await server.close();
    });

    it("events/in takes events one per message or in arrays, and they are persisted", async () => {
      const client = await connect("/events/in", []);
      client.send({ type: "auth", token: null });
      const one = event("baton.ws.one", "baton.ws.a");
      const many = Array.from({ length: 250 }, (_, i) => event("baton.ws.many", `baton.ws.m${i}`));
      client.send(one);
      client.send(many);
      await server.persisted([one.id, ...many.map((e) => e.id)]);
      await client.waitFor((c) => c.of("auth_success").length === 1, "auth_success");
      expect(client.of("error")).toEqual([]);
    });

    it("garbage on events/in gets a clear error to that client only, and nothing is lost for the others", async () => {
      const bad = await connect("/events/in", []);
      const good = await connect("/events/in", []);
      const watcher = await subscribe("/events/out", { event: { prefix: ["baton.garbage."] } }, { backfill: false });
      await watcher.waitFor(() => true);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const goodEvents = Array.from({ length: 20 }, (_, i) => event("baton.garbage.good", `baton.g.${i}`));
      const fromBad = event("baton.garbage.also-good", "baton.g.bad-client");
      bad.send("{not json");
      bad.send({ event: "baton.garbage.no-resource", id: randomUUID(), occurred: new Date().toISOString() });
      bad.socket.send(Buffer.from([0, 1, 2, 3]));
      bad.send([fromBad, { ...fromBad, id: "not-a-uuid" }]);
      bad.send(fromBad);
      for (const e of goodEvents) good.send(e);
      await bad.waitFor((c) => c.of("error").length === 4, "four errors");
      const reasons = bad.of("error").map((m) => String(m.reason));
      expect(reasons[0]).toMatch(/expected a JSON message/);
      expect(reasons[1]).toMatch(/^invalid event: resource/);
      expect(reasons[2]).toMatch(/binary/);
      expect(reasons[3]).toMatch(/^invalid event: 1\.id/);
      expect(bad.closed).toBeUndefined();
      await server.persisted([...goodEvents.map((e) => e.id), fromBad.id]);
      expect(good.of("error")).toEqual([]);
      await watcher.waitFor((c) => c.events().length === 21, "21 live events");
      // A refused task-run event (unknown flow run) is refused alone.
      const orphan = event("prefect.task-run.Running", `prefect.task-run.${randomUUID()}`, {
        payload: { task_run: { id: randomUUID(), flow_run_id: randomUUID(), task_key: "k", dynamic_key: "0", name: "n" }, validated_state: { type: "RUNNING", name: "Running" } },
      });
      const fine = event("baton.garbage.after", "baton.g.after");
      bad.send([orphan, fine]);
      await server.persisted([fine.id]);
      await bad.waitFor((c) => c.of("error").length === 5, "fifth error");
      expect(String(bad.of("error")[4]!.reason)).toContain(orphan.id);
      // NUL characters, which PostgreSQL cannot store, are refused before they reach the persister.
      bad.send({ ...event("baton.garbage.nul", "baton.g.nul"), payload: { text: "a\u0000b" } });
      await bad.waitFor((c) => c.of("error").length === 6, "sixth error");
      expect(String(bad.of("error")[5]!.reason)).toMatch(/NUL/);
      // So are lone surrogates (JSON allows "\ud800"; PostgreSQL's jsonb does not).
      bad.send({ ...event("baton.garbage.surrogate", "baton.g.surrogate"), payload: { text: "a\ud800b" } });
      await bad.waitFor((c) => c.of("error").length === 7, "seventh error");
      expect(String(bad.of("error")[6]!.reason)).toMatch(/payload\.text: .*lone surrogate/);
      const afterNul = event("baton.garbage.after-nul", "baton.g.after");
      good.send(afterNul);
      await server.persisted([afterNul.id]);
      // The server is still fine.
      expect((await server.call("GET", "/health")).status).toBe(200);
    });

    it("events/out backfills stored matching events, then streams new ones, each once", async () => {
      const resource = `baton.out.${randomUUID()}`;
      const before = [event("baton.out.old", resource, { occurred: new Date(Date.now() - 2000).toISOString() }), event("baton.out.old", resource, { occurred: new Date(Date.now() - 1000).toISOString() })];
      await server.call("POST", "/events", before);
      await server.persisted(before.map((e) => e.id));
      const client = await subscribe("/events/out", { resource: { id: [resource] } });
      await client.waitFor((c) => c.events().length === 2, "backfill");
      const later = [event("baton.out.new", resource), event("baton.out.other", "baton.out.elsewhere")];
      await server.call("POST", "/events", later);
      await client.waitFor((c) => c.events().length === 3, "live event");
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(client.events().map((e) => e.id)).toEqual([before[0]!.id, before[1]!.id, later[0]!.id]);
      expect(client.events()[2]!.received).toEqual(expect.any(String));
    });

    it("events/out streams the server's own state-change events", async () => {
      const flow = (await server.call<{ id: string }>("POST", "/flows/", { name: "ws-flow" })).body;
      const client = await subscribe("/events/out", { event: { prefix: ["prefect.flow-run."] }, resource: { id_prefix: ["prefect.flow-run."] } }, { backfill: false });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const run = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flow.id, state: { type: "PENDING" } })).body;
      await server.call("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING" } });
      await client.waitFor((c) => c.events().filter((e) => e.resource["prefect.resource.id"] === `prefect.flow-run.${run.id}`).length === 2, "two state events");
      expect(client.events().map((e) => e.event)).toEqual(["prefect.flow-run.Pending", "prefect.flow-run.Running"]);
    });

    it("events/out and logs/out refuse a bad handshake with Prefect's close codes", async () => {
      const noProtocol = await connect("/events/out", []);
      await noProtocol.waitFor((c) => c.closed !== undefined, "close");
      expect(noProtocol.closed!.code).toBe(1002);
      const noAuth = await connect("/events/out");
      noAuth.send({ type: "filter", filter: {} });
      await noAuth.waitFor((c) => c.closed !== undefined, "close");
      expect(noAuth.closed).toEqual({ code: 1008, reason: "Expected 'auth' message" });
      const badFilter = await subscribe("/events/out", { resource: { labels: { a: 1 } } });
      await badFilter.waitFor((c) => c.closed !== undefined, "close");
      expect(badFilter.closed!.code).toBe(1002);
      expect(badFilter.closed!.reason).toMatch(/^Invalid filter: filter\.resource\.labels\.a/);
      const badLogFilter = await subscribe("/logs/out", { level: { ge_: "high" } });
      await badLogFilter.waitFor((c) => c.closed !== undefined, "close");
      expect(badLogFilter.closed!.reason).toMatch(/^Invalid filter: filter\.level\.ge_/);
      const notFilter = await connect("/logs/out");
      notFilter.send({ type: "auth" });
      notFilter.send("garbage");
      await notFilter.waitFor((c) => c.closed !== undefined, "close");
      expect(notFilter.closed).toEqual({ code: 1002, reason: "Expected 'filter' message" });
    });

    it("events/out refuses a bad related or any_resource filter to that client only, naming the field", async () => {
      const resource = `baton.bad-out.${randomUUID()}`;
      const watcher = await subscribe("/events/out", { resource: { id: [resource] } }, { backfill: false });
      const probe = async (name: string) => {
        const sent = event(name, resource);
        await server.call("POST", "/events", [sent]);
        await watcher.waitFor((c) => c.events().some((e) => e.id === sent.id), `the watcher to get ${name}`);
      };
      await probe("baton.bad-out.before");
      const refusals: Array<[unknown, RegExp]> = [
        [{ related: 5 }, /^Invalid filter: filter\.related/],
        [{ related: { ids: ["x"] } }, /^Invalid filter: filter\.related.*ids/],
        [{ related: { resources_in_roles: [["only-an-id"]] } }, /^Invalid filter: filter\.related.*resources_in_roles/],
        [{ related: [{ role: ["flow"] }, { labels: { env: { no: 1 } } }] }, /^Invalid filter: filter\.related.*labels\.env/],
        [{ related: Array.from({ length: 51 }, () => ({ role: ["flow"] })) }, /^Invalid filter: filter\.related/],
        [{ any_resource: { id: "prefect.flow.x" } }, /^Invalid filter: filter\.any_resource.*id/],
        [{ any_resource: { id: ["x"], role: ["flow"] } }, /^Invalid filter: filter\.any_resource.*role/],
        [{ any_resource: [{ id_prefix: [5] }] }, /^Invalid filter: filter\.any_resource.*id_prefix/],
        [{ any_resource: Array.from({ length: 6 }, () => ({ id: Array.from({ length: 1000 }, (_, i) => `x.${i}`) })) }, /^Invalid filter: filter.*more than 5000/],
      ];
      for (const [filter, reason] of refusals) {
        const bad = await subscribe("/events/out", filter);
        await bad.waitFor((c) => c.closed !== undefined, "close");
        expect(bad.closed!.code, JSON.stringify(filter).slice(0, 200)).toBe(1002);
        expect(bad.closed!.reason).toMatch(reason);
        // A close reason is at most 123 bytes.
        expect(Buffer.byteLength(bad.closed!.reason)).toBeLessThanOrEqual(123);
      }
      // Valid but large criteria are taken.
      const large = await subscribe("/events/out", { related: { resources_in_roles: Array.from({ length: 1000 }, (_, i) => [`prefect.flow.${i}`, "flow"]) }, any_resource: { id_prefix: Array.from({ length: 1000 }, (_, i) => `nope.${i}.`) } });
      // Taken, and applied: an event meeting both arrives (a wait on a timer would pass before a refusal came).
      const wanted = event("baton.bad-out.large", `nope.7.${randomUUID()}`, { related: [{ "prefect.resource.id": "prefect.flow.999", "prefect.resource.role": "flow" }] });
      const unwanted = event("baton.bad-out.large", `nope.7.${randomUUID()}`, { related: [{ "prefect.resource.id": "prefect.flow.1000", "prefect.resource.role": "flow" }] });
      await server.call("POST", "/events", [unwanted, wanted]);
      await large.waitFor((c) => c.events().some((e) => e.id === wanted.id) || c.closed !== undefined, "the large subscription to get its event");
      expect(large.closed).toBeUndefined();
      expect(large.events().map((e) => e.id)).not.toContain(unwanted.id);
      // The other client was not disturbed, and the server is fine.
      await probe("baton.bad-out.after");
      expect(watcher.closed).toBeUndefined();
      expect((await server.call("GET", "/health")).status).toBe(200);
    });

    it("logs/out streams logs as they are written, filtered", async () => {
      const flow = (await server.call<{ id: string }>("POST", "/flows/", { name: "log-flow" })).body;
      const run = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flow.id })).body;
      const other = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flow.id })).body;
      const client = await subscribe("/logs/out", { flow_run_id: { any_: [run.id] }, level: { ge_: 20 } });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const log = (flowRunId: string, level: number, message: string) => ({ name: "test", level, message, timestamp: new Date().toISOString(), flow_run_id: flowRunId });
      expect((await server.call("POST", "/logs/", [log(run.id, 20, "one"), log(run.id, 10, "debug"), log(other.id, 20, "other"), log(run.id, 40, "two")])).status).toBe(201);
      await client.waitFor((c) => c.of("log").length === 2, "two logs");
      const logs = client.of("log").map((m) => m.log as { message: string; id: string; flow_run_id: string });
      expect(logs.map((l) => l.message)).toEqual(["one", "two"]);
      // They are stored by the time POST /logs/ answers.
      const stored = await server.call<Array<{ id: string }>>("POST", "/logs/filter", { logs: { flow_run_id: { any_: [run.id] } } });
      expect(stored.body.map((l) => l.id)).toEqual(expect.arrayContaining(logs.map((l) => l.id)));
    });
  });
}
