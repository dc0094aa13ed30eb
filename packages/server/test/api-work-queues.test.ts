import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, WorkPool, WorkQueue, WorkQueueConcurrencyStatus, WorkQueueStatusDetail } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface ValidationError {
  exception_message: string;
}

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

/** `/work_queues/...`: queues by id, across pools, and the agent pool for queues created without one. */
for (const dialect of DIALECTS) {
  describe(`work queues (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "queued" })).body.id;
    });
    afterAll(() => server.close());

    async function create(body: Record<string, unknown>): Promise<WorkQueue> {
      const { status, body: queue } = await server.call<WorkQueue>("POST", "/work_queues/", body);
      expect(status, JSON.stringify(queue)).toBe(201);
      return queue;
    }
    async function read(id: string): Promise<WorkQueue> {
      const { status, body } = await server.call<WorkQueue>("GET", `/work_queues/${id}`);
      expect(status).toBe(200);
      return body;
    }
    async function pooledQueue(pool: string, queue: Record<string, unknown> = {}): Promise<WorkQueue> {
      if ((await server.call("GET", `/work_pools/${pool}`)).status === 404) {
        expect((await server.call("POST", "/work_pools/", { name: pool, type: "process" })).status).toBe(201);
      }
      const { status, body } = await server.call<WorkQueue>("POST", `/work_pools/${pool}/queues`, { name: "q", ...queue });
      expect(status).toBe(201);
      return body;
    }
    async function scheduledRun(pool: string, queue: string, minutes: number): Promise<FlowRun> {
      const { status, body } = await server.call<FlowRun>("POST", "/flow_runs/", {
        flow_id: flowId,
        work_pool_name: pool,
        work_queue_name: queue,
        state: { type: "SCHEDULED", state_details: { scheduled_time: minutesFromNow(minutes) } },
      });
      expect(status).toBe(201);
      return body;
    }
    async function propose(id: string, state: Record<string, unknown>): Promise<string> {
      return (await server.call<{ status: string }>("POST", `/flow_runs/${id}/set_state`, { state })).body.status;
    }
    async function expect422(method: string, path: string, body: unknown, field: string): Promise<void> {
      const response = await server.call<ValidationError>(method, path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(422);
      expect(response.body.exception_message).toContain(field);
    }

    it("creates a queue without a pool in the agent pool, which is created with its default queue", async () => {
      const queue = await create({ name: "legacy", description: "old style", concurrency_limit: 2 });
      expect(queue).toMatchObject({ name: "legacy", description: "old style", concurrency_limit: 2, active_slots: 0, is_paused: false, work_pool_name: "default-agent-pool", priority: 2 });
      const pool = (await server.call<WorkPool>("GET", "/work_pools/default-agent-pool")).body;
      expect(pool).toMatchObject({ id: queue.work_pool_id, type: "prefect-agent", status: null });
      expect((await create({ name: "legacy-2", priority: 1 })).priority).toBe(1);
      expect((await read(queue.id)).priority).toBe(3);
      expect((await server.call("POST", "/work_queues/", { name: "legacy" })).status).toBe(409);
      expect((await server.call("POST", "/work_queues/", { name: "default" })).status).toBe(409);
    });

    it("reads a queue by id and, in the agent pool, by name", async () => {
      const queue = await create({ name: "by-name" });
      expect(await read(queue.id)).toEqual(queue);
      const byName = await server.call<WorkQueue>("GET", "/work_queues/name/by-name");
      expect(byName).toEqual({ status: 200, body: queue });
      // A queue of another pool is not the agent pool's.
      await pooledQueue("elsewhere", { name: "only-elsewhere" });
      expect((await server.call("GET", "/work_queues/name/only-elsewhere")).status).toBe(404);
      const missing = await server.call<{ detail: string }>("GET", `/work_queues/${crypto.randomUUID()}`);
      expect(missing.status).toBe(404);
      for (const [method, suffix, body] of [
        ["GET", "", undefined],
        ["PATCH", "", { name: "x" }],
        ["DELETE", "", undefined],
        ["POST", "/get_runs", {}],
        ["GET", "/status", undefined],
        ["POST", "/concurrency_status", {}],
      ] as const) {
        await expect422(method, `/work_queues/not-a-uuid${suffix}`, body, "path.id");
      }
    });

    it("updates a queue by id (204): name, description, limit, priority, pause, last_polled", async () => {
      const queue = await pooledQueue("patching", { name: "p" });
      expect((await server.call("PATCH", `/work_queues/${queue.id}`, { name: "renamed", description: "d", concurrency_limit: 0, priority: 1 })).status).toBe(204);
      expect(await read(queue.id)).toMatchObject({ name: "renamed", description: "d", concurrency_limit: 0, priority: 1 });
      expect((await server.call("PATCH", `/work_queues/${queue.id}`, { concurrency_limit: null })).status).toBe(204);
      expect(await read(queue.id)).toMatchObject({ concurrency_limit: null, active_slots: null });
      expect((await server.call("PATCH", `/work_queues/${queue.id}`, { is_paused: true })).status).toBe(204);
      expect(await read(queue.id)).toMatchObject({ is_paused: true, status: "PAUSED" });
      // Resumed having been polled just now: READY.
      const polled = new Date().toISOString();
      expect((await server.call("PATCH", `/work_queues/${queue.id}`, { is_paused: false, last_polled: polled })).status).toBe(204);
      expect(await read(queue.id)).toMatchObject({ is_paused: false, status: "READY", last_polled: polled });
      expect((await server.call("PATCH", `/work_queues/${crypto.randomUUID()}`, { name: "x" })).status).toBe(404);
      await expect422("PATCH", `/work_queues/${queue.id}`, { concurrency_limit: -1 }, "concurrency_limit");
      await expect422("PATCH", `/work_queues/${queue.id}`, { priority: 1.5 }, "priority");
      await expect422("PATCH", `/work_queues/${queue.id}`, { color: "red" }, "color");
    });

    it("deletes a queue by id, but not a pool's default queue", async () => {
      const queue = await create({ name: "to-delete" });
      expect((await server.call("DELETE", `/work_queues/${queue.id}`)).status).toBe(204);
      expect((await server.call("GET", `/work_queues/${queue.id}`)).status).toBe(404);
      expect((await server.call("DELETE", `/work_queues/${queue.id}`)).status).toBe(404);
      const pool = (await server.call<WorkPool>("GET", "/work_pools/default-agent-pool")).body;
      expect((await server.call("DELETE", `/work_queues/${pool.default_queue_id}`)).status).toBe(409);
    });

    it("filters queues of every pool by name, id and prefix", async () => {
      const a = await pooledQueue("filter-a", { name: "zq-shared" });
      const b = await pooledQueue("filter-b", { name: "zq-shared" });
      await pooledQueue("filter-b", { name: "ZQ-other" });
      const list = async (body: Record<string, unknown>) => (await server.call<WorkQueue[]>("POST", "/work_queues/filter", body)).body;
      const shared = await list({ work_queues: { name: { any_: ["zq-shared"] } } });
      expect(shared.map((q) => q.id).sort()).toEqual([a.id, b.id].sort());
      expect(shared.map((q) => q.work_pool_name).sort()).toEqual(["filter-a", "filter-b"]);
      expect((await list({ work_queues: { name: { startswith_: ["zq-"] } } })).map((q) => q.name)).toEqual(["ZQ-other", "zq-shared", "zq-shared"]);
      expect((await list({ work_queues: { id: { any_: [b.id] } } })).map((q) => q.id)).toEqual([b.id]);
      expect(await list({ work_queues: { name: { startswith_: ["zq-"] } }, limit: 1, offset: 2 })).toHaveLength(1);
      await expect422("POST", "/work_queues/filter", { offset: -1 }, "offset");
      await expect422("POST", "/work_queues/filter", { work_queues: { name: { like_: "x" } } }, "work_queues.name");
    });

    it("get_runs returns a queue's due runs within its limit and marks it polled, unless the UI asks", async () => {
      const queue = await pooledQueue("runs", { name: "worked", concurrency_limit: 2 });
      const runs = [await scheduledRun("runs", "worked", -3), await scheduledRun("runs", "worked", -2), await scheduledRun("runs", "worked", -1)];
      await scheduledRun("runs", "worked", 60);
      const ui = await fetch(`${server.apiUrl}/work_queues/${queue.id}/get_runs`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-prefect-ui": "true" },
        body: JSON.stringify({ scheduled_before: new Date().toISOString() }),
      });
      expect(((await ui.json()) as FlowRun[]).map((r) => r.id)).toEqual([runs[0]!.id, runs[1]!.id]);
      expect((await read(queue.id)).last_polled).toBeNull();
      const { status, body } = await server.call<FlowRun[]>("POST", `/work_queues/${queue.id}/get_runs`, { scheduled_before: new Date().toISOString(), limit: 1 });
      expect(status).toBe(200);
      expect(body.map((r) => r.id)).toEqual([runs[0]!.id]);
      expect(await read(queue.id)).toMatchObject({ status: "READY" });
      expect((await read(queue.id)).last_polled).not.toBeNull();
      expect(await propose(runs[0]!.id, { type: "PENDING" })).toBe("ACCEPT");
      expect((await server.call<FlowRun[]>("POST", `/work_queues/${queue.id}/get_runs`, { scheduled_before: new Date().toISOString() })).body.map((r) => r.id)).toEqual([runs[1]!.id]);
      expect((await server.call("PATCH", `/work_queues/${queue.id}`, { is_paused: true })).status).toBe(204);
      expect((await server.call<FlowRun[]>("POST", `/work_queues/${queue.id}/get_runs`, {})).body).toEqual([]);
      expect((await server.call("POST", `/work_queues/${crypto.randomUUID()}/get_runs`, {})).status).toBe(404);
      await expect422("POST", `/work_queues/${queue.id}/get_runs`, { scheduled_before: "now" }, "scheduled_before");
      await expect422("POST", `/work_queues/${queue.id}/get_runs`, { agent_id: "me" }, "agent_id");
    });

    it("status: healthy when polled within a minute and no run is Late", async () => {
      const queue = await pooledQueue("health", { name: "h" });
      const status = async () => (await server.call<WorkQueueStatusDetail>("GET", `/work_queues/${queue.id}/status`)).body;
      expect(await status()).toEqual({
        healthy: false,
        late_runs_count: 0,
        last_polled: null,
        health_check_policy: { maximum_late_runs: 0, maximum_seconds_since_last_polled: 60 },
      });
      await server.call("POST", `/work_queues/${queue.id}/get_runs`, {});
      expect(await status()).toMatchObject({ healthy: true, late_runs_count: 0 });
      const run = await scheduledRun("health", "h", -5);
      expect(await propose(run.id, { type: "SCHEDULED", name: "Late", state_details: { scheduled_time: minutesFromNow(-5) } })).toBe("ACCEPT");
      expect(await status()).toMatchObject({ healthy: false, late_runs_count: 1 });
      expect((await server.call("GET", `/work_queues/${crypto.randomUUID()}/status`)).status).toBe(404);
    });

    it("concurrency_status lists the runs holding the queue's slots, page by page", async () => {
      const queue = await pooledQueue("slots", { name: "s", concurrency_limit: 5 });
      const holders = [await scheduledRun("slots", "s", -3), await scheduledRun("slots", "s", -2), await scheduledRun("slots", "s", -1)];
      for (const run of holders) expect(await propose(run.id, { type: "PENDING" })).toBe("ACCEPT");
      await scheduledRun("slots", "s", -1);
      const { status, body } = await server.call<WorkQueueConcurrencyStatus>("POST", `/work_queues/${queue.id}/concurrency_status`, {});
      expect(status).toBe(200);
      expect(body).toMatchObject({ active_slots: 3, concurrency_limit: 5, count: 3, page: 1, pages: 1 });
      expect(body.flow_runs.map((r) => r.id)).toEqual(holders.map((r) => r.id));
      expect(body.flow_runs[0]).toMatchObject({ state_type: "PENDING", state_name: "Pending" });
      const second = await server.call<WorkQueueConcurrencyStatus>("POST", `/work_queues/${queue.id}/concurrency_status`, { limit: 2, page: 2 });
      expect(second.body).toMatchObject({ count: 3, limit: 2, pages: 2, page: 2 });
      expect(second.body.flow_runs.map((r) => r.id)).toEqual([holders[2]!.id]);
      expect((await server.call("POST", `/work_queues/${crypto.randomUUID()}/concurrency_status`, {})).status).toBe(404);
      await expect422("POST", `/work_queues/${queue.id}/concurrency_status`, { page: 0 }, "page");
    });

    it("refuses bad create bodies (422 naming the field)", async () => {
      await expect422("POST", "/work_queues/", {}, "name");
      await expect422("POST", "/work_queues/", { name: "a%b" }, "name");
      await expect422("POST", "/work_queues/", { name: "x", priority: -1 }, "priority");
      await expect422("POST", "/work_queues/", { name: "x", is_paused: 1 }, "is_paused");
      await expect422("POST", "/work_queues/", { name: "x", filter: { tags: "a" } }, "filter.tags");
    });
  });
}
