import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { startServer, type RunningServer } from "@baton/server";
import { DIALECTS, POSTGRES_URL, startTestServer, type TestServer } from "./harness.js";

/** A test client speaking the subscription protocol; collects what the server sends. */
class Subscriber {
  readonly messages: unknown[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  #waiters: Array<() => void> = [];

  constructor(readonly socket: WebSocket) {
    socket.on("message", (data) => {
      this.messages.push(JSON.parse(data.toString()) as unknown);
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => socket.on("close", (code, reason) => resolve({ code, reason: reason.toString() })));
  }

  static async open(apiUrl: string, protocols: string[] = ["prefect"]): Promise<Subscriber> {
    const socket = new WebSocket(`${apiUrl.replace(/^http/, "ws")}/task_runs/subscriptions/scheduled`, protocols);
    const subscriber = new Subscriber(socket);
    await new Promise<void>((resolve, reject) => {
      socket.once("open", () => resolve());
      socket.once("error", reject);
    });
    return subscriber;
  }

  /** auth + subscribe; resolves after auth_success. */
  static async subscribed(apiUrl: string, keys: string[], clientId = `client-${randomUUID().slice(0, 8)}`): Promise<Subscriber> {
    const s = await Subscriber.open(apiUrl);
    s.send({ type: "auth", token: null });
    expect(await s.next()).toEqual({ type: "auth_success" });
    s.send({ type: "subscribe", keys, client_id: clientId });
    return s;
  }

  send(value: unknown): void {
    this.socket.send(typeof value === "string" ? value : JSON.stringify(value));
  }

  /** The next message, within `ms`. */
  async next(ms = 5000): Promise<unknown> {
    const deadline = Date.now() + ms;
    while (this.messages.length === 0) {
      if (Date.now() > deadline) throw new Error("no message from the server");
      await new Promise<void>((resolve) => {
        this.#waiters.push(resolve);
        setTimeout(resolve, 50);
      });
    }
    return this.messages.shift();
  }

  /** True when nothing arrives within `ms`. */
  async quiet(ms = 300): Promise<boolean> {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return this.messages.length === 0;
  }

  close(): void {
    this.socket.close();
  }
}

type Run = { id: string; task_key: string; flow_run_id: string | null; state: { type: string; name: string; state_details: Record<string, unknown> } };

function backgroundRun(taskKey: string, extra: Record<string, unknown> = {}) {
  return {
    task_key: taskKey,
    dynamic_key: randomUUID(),
    flow_run_id: null,
    state: { type: "SCHEDULED", name: "Scheduled", state_details: { deferred: true, task_parameters_id: randomUUID() } },
    ...extra,
  };
}

for (const dialect of DIALECTS) {
  describe(`background task runs (${dialect})`, () => {
    let s: TestServer;
    beforeAll(async () => {
      s = await startTestServer(dialect);
    });
    afterAll(async () => {
      await s.close();
    });

    it("delivers a scheduled background run to a subscriber of its key, one at a time, each after the ack", async () => {
      const key = `deliver-${randomUUID()}`;
      const sub = await Subscriber.subscribed(s.apiUrl, [key]);
      const a = await s.call<Run>("POST", "/task_runs/", backgroundRun(key));
      const b = await s.call<Run>("POST", "/task_runs/", backgroundRun(key));
      expect(a.status).toBe(201);
      const first = (await sub.next()) as Run;
      expect(first.id).toBe(a.body.id);
      expect(first.flow_run_id).toBeNull();
      expect(first.state.state_details.deferred).toBe(true);
      // Nothing more before the ack.
      expect(await sub.quiet()).toBe(true);
      sub.send({ type: "ack" });
      expect(((await sub.next()) as Run).id).toBe(b.body.id);
      sub.send({ type: "ack" });
      sub.close();
    });

    it("does not deliver task runs of a flow run, or that are not deferred, or of other keys", async () => {
      const key = `other-${randomUUID()}`;
      const sub = await Subscriber.subscribed(s.apiUrl, [key]);
      await s.call("POST", "/task_runs/", { ...backgroundRun(key), state: { type: "SCHEDULED" } });
      await s.call("POST", "/task_runs/", backgroundRun(`${key}-else`));
      expect(await sub.quiet()).toBe(true);
      sub.close();
    });

    it("gives a run that was sent but not acknowledged to the next subscriber", async () => {
      const key = `unacked-${randomUUID()}`;
      const first = await Subscriber.subscribed(s.apiUrl, [key]);
      const run = await s.call<Run>("POST", "/task_runs/", backgroundRun(key));
      expect(((await first.next()) as Run).id).toBe(run.body.id);
      first.close();
      await first.closed;
      const second = await Subscriber.subscribed(s.apiUrl, [key]);
      expect(((await second.next()) as Run).id).toBe(run.body.id);
      second.send({ type: "ack" });
      second.close();
    });

    it("lets exactly one of several claims win, and refuses RUNNING without a claim and claims of finished runs", async () => {
      const run = await s.call<Run>("POST", "/task_runs/", backgroundRun(`claim-${randomUUID()}`));
      const running = await s.call<{ status: string; details: { reason: string } }>("POST", `/task_runs/${run.body.id}/set_state`, { state: { type: "RUNNING" } });
      expect(running.body.status).toBe("ABORT");
      expect(running.body.details.reason).toMatch(/must be claimed/);
      const claims = await Promise.all(Array.from({ length: 6 }, () => s.call<{ status: string }>("POST", `/task_runs/${run.body.id}/set_state`, { state: { type: "PENDING" } })));
      expect(claims.filter((c) => c.body.status === "ACCEPT")).toHaveLength(1);
      expect(claims.filter((c) => c.body.status === "ABORT")).toHaveLength(5);
      await s.call("POST", `/task_runs/${run.body.id}/set_state`, { state: { type: "RUNNING" } });
      await s.call("POST", `/task_runs/${run.body.id}/set_state`, { state: { type: "COMPLETED", data: { type: "json", value: 1 } } });
      const stale = await s.call<{ status: string }>("POST", `/task_runs/${run.body.id}/set_state`, { state: { type: "PENDING" } });
      expect(stale.body.status).toBe("ABORT");
    });

    it("queues the AwaitingRetry of a failed background run again, with its parameters", async () => {
      const key = `retry-${randomUUID()}`;
      const created = await s.call<Run>("POST", "/task_runs/", backgroundRun(key, { empirical_policy: { retries: 1, retry_delay: 0 } }));
      const parametersId = created.body.state.state_details.task_parameters_id;
      await s.call("POST", `/task_runs/${created.body.id}/set_state`, { state: { type: "PENDING" } });
      await s.call("POST", `/task_runs/${created.body.id}/set_state`, { state: { type: "RUNNING" } });
      const failed = await s.call<{ status: string; state: Run["state"] }>("POST", `/task_runs/${created.body.id}/set_state`, { state: { type: "FAILED", message: "boom" } });
      expect(failed.body.status).toBe("REJECT");
      expect(failed.body.state.name).toBe("AwaitingRetry");
      expect(failed.body.state.state_details).toMatchObject({ deferred: true, task_parameters_id: parametersId });
      const sub = await Subscriber.subscribed(s.apiUrl, [key]);
      const delivered = (await sub.next()) as Run;
      expect(delivered.id).toBe(created.body.id);
      expect(delivered.state.name).toBe("AwaitingRetry");
      sub.send({ type: "ack" });
      sub.close();
    });

    it("closes a connection that breaks the protocol, naming what was wrong, and keeps serving", async () => {
      const noProtocol = await Subscriber.open(s.apiUrl, []);
      expect((await noProtocol.closed).code).toBe(1002);

      const garbageAuth = await Subscriber.open(s.apiUrl);
      garbageAuth.send("this is { not json");
      expect(await garbageAuth.closed).toEqual({ code: 1008, reason: "Expected 'auth' message: expected a JSON message" });

      const noKeys = await Subscriber.open(s.apiUrl);
      noKeys.send({ type: "auth", token: null });
      await noKeys.next();
      noKeys.send({ type: "subscribe", keys: [], client_id: "x" });
      expect((await noKeys.closed).reason).toMatch(/^Protocol violation: expected 'keys'/);

      const noClient = await Subscriber.open(s.apiUrl);
      noClient.send({ type: "auth", token: null });
      await noClient.next();
      noClient.send({ type: "subscribe", keys: ["k"] });
      expect(await noClient.closed).toEqual({ code: 4001, reason: "Protocol violation: expected 'client_id' in subscribe message" });

      const idleGarbage = await Subscriber.subscribed(s.apiUrl, [`idle-${randomUUID()}`]);
      idleGarbage.send(Buffer.from([0xff, 0x00, 0x13]));
      expect((await idleGarbage.closed).code).toBe(4001);

      const key = `badack-${randomUUID()}`;
      const badAck = await Subscriber.subscribed(s.apiUrl, [key]);
      const run = await s.call<Run>("POST", "/task_runs/", backgroundRun(key));
      await badAck.next();
      badAck.send({ type: "nope" });
      expect(await badAck.closed).toEqual({ code: 4001, reason: "Protocol violation: expected 'ack' message" });
      // The run was not taken, so the next subscriber gets it.
      const next = await Subscriber.subscribed(s.apiUrl, [key]);
      expect(((await next.next()) as Run).id).toBe(run.body.id);
      next.send({ type: "ack" });
      next.close();

      const plainGet = await fetch(`${s.apiUrl}/task_runs/subscriptions/scheduled`);
      expect(plainGet.status).toBe(400);
      expect((await s.call("GET", "/health")).status).toBe(200);
    });

    it("lists connected task workers with POST /task_workers/filter, and forgets them when they go", async () => {
      const key = `workers-${randomUUID()}`;
      const sub = await Subscriber.subscribed(s.apiUrl, [key, `${key}-b`], "worker-listed");
      let listed: Array<{ identifier: string; task_keys: string[]; timestamp: string }> = [];
      for (let i = 0; i < 40 && listed.length === 0; i++) {
        listed = (await s.call<typeof listed>("POST", "/task_workers/filter", { task_worker_filter: { task_keys: [key] } })).body;
        if (listed.length === 0) await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(listed).toHaveLength(1);
      expect(listed[0]).toMatchObject({ identifier: "worker-listed", task_keys: [key, `${key}-b`].sort() });
      expect((await s.call<unknown[]>("POST", "/task_workers/filter", { task_worker_filter: { task_keys: ["nobody"] } })).body).toEqual([]);
      expect((await s.call<Array<{ identifier: string }>>("POST", "/task_workers/filter")).body.map((w) => w.identifier)).toContain("worker-listed");
      const bad = await s.call<{ exception_message: string }>("POST", "/task_workers/filter", { task_worker_filter: { task_keys: "k" } });
      expect(bad.status).toBe(422);
      expect(bad.body.exception_message).toMatch(/task_worker_filter\.task_keys/);
      sub.close();
      await sub.closed;
      for (let i = 0; i < 40; i++) {
        const now = (await s.call<Array<{ identifier: string }>>("POST", "/task_workers/filter", {})).body;
        if (!now.some((w) => w.identifier === "worker-listed")) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      throw new Error("the worker is still listed after it disconnected");
    });
  });

  describe(`background task runs across restarts and lost workers (${dialect})`, () => {
    let dir: string;
    const schema = `bgrestart_${process.pid}_${Date.now().toString(36)}`;
    const servers: RunningServer[] = [];
    const start = async (graceSeconds = 30) => {
      const databaseUrl = dialect === "sqlite" ? `sqlite:${join(dir, "baton.db")}` : POSTGRES_URL;
      const server = await startServer({
        config: { port: 0, host: "127.0.0.1", databaseUrl, databaseSchema: dialect === "postgres" ? schema : undefined, logLevel: "silent", taskWorkerGraceSeconds: graceSeconds },
        services: false,
      });
      servers.push(server);
      return server;
    };
    const post = async <T>(server: RunningServer, path: string, body: unknown) => {
      const response = await fetch(`${server.apiUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      return (await response.json()) as T;
    };
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "baton-bg-restart-"));
    });
    afterAll(async () => {
      for (const server of servers) await server.close();
      rmSync(dir, { recursive: true, force: true });
      if (dialect === "postgres") {
        const pg = (await import("pg")).default;
        const client = new pg.Client({ connectionString: POSTGRES_URL });
        await client.connect();
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await client.end();
      }
    });

    it("a run delayed with no worker connected is delivered after the server restarts on the same database", async () => {
      const key = `restart-${randomUUID()}`;
      const first = await start();
      const run = await post<Run>(first, "/task_runs/", backgroundRun(key));
      await first.close();
      const second = await start();
      const sub = await Subscriber.subscribed(second.apiUrl, [key]);
      expect(((await sub.next()) as Run).id).toBe(run.id);
      sub.send({ type: "ack" });
      sub.close();
      await second.close();
    });

    it("a worker that goes away with a claimed run loses it after the grace period: PENDING is rescheduled, RUNNING crashes and is retried", async () => {
      const key = `lost-${randomUUID()}`;
      const server = await start(0.2);
      const pending = await post<Run>(server, "/task_runs/", backgroundRun(key));
      const running = await post<Run>(server, "/task_runs/", backgroundRun(key, { empirical_policy: { retries: 1, retry_delay: 0 } }));
      const sub = await Subscriber.subscribed(server.apiUrl, [key], "doomed-worker");
      for (let i = 0; i < 2; i++) {
        const offered = (await sub.next()) as Run;
        await post(server, `/task_runs/${offered.id}/set_state`, { state: { type: "PENDING" } });
        if (offered.id === running.id) await post(server, `/task_runs/${offered.id}/set_state`, { state: { type: "RUNNING" } });
        sub.send({ type: "ack" });
      }
      sub.socket.terminate();
      await sub.closed;
      const next = await Subscriber.subscribed(server.apiUrl, [key], "rescuer");
      const redelivered = new Map<string, Run>();
      for (let i = 0; i < 2; i++) {
        const offered = (await next.next(5000)) as Run;
        redelivered.set(offered.id, offered);
        next.send({ type: "ack" });
      }
      expect(redelivered.get(pending.id)?.state).toMatchObject({ type: "SCHEDULED", name: "Scheduled" });
      expect(redelivered.get(running.id)?.state).toMatchObject({ type: "SCHEDULED", name: "AwaitingRetry" });
      const states = await (await fetch(`${server.apiUrl}/task_run_states/?task_run_id=${running.id}`)).json() as Array<{ type: string; message: string | null }>;
      expect(states.map((st) => st.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "CRASHED", "SCHEDULED"]);
      expect(states[3]!.message).toMatch(/task worker 'doomed-worker' disconnected/);
      next.close();
      await server.close();
    });
  });
}
