import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  WorkerStatus,
  WorkPoolStatus,
  WorkQueueStatus,
  type Deployment,
  type FlowRun,
  type Worker,
  type WorkerFlowRunResponse,
  type WorkPool,
  type WorkPoolConcurrencyStatus,
  type WorkQueue,
} from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface ValidationError {
  exception_message: string;
}

const CONTRACT_PATH = join(resolve(dirname(fileURLToPath(import.meta.url)), "../../.."), "../shared/contract/prefect-rest-api-v3.openapi.json");
const contract = existsSync(CONTRACT_PATH)
  ? (JSON.parse(readFileSync(CONTRACT_PATH, "utf8")) as { components: { schemas: Record<string, { properties?: object; enum?: unknown[] }> } })
  : undefined;

const minutesFromNow = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();

for (const dialect of DIALECTS) {
  describe(`work pools (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "pooled" })).body.id;
    });
    afterAll(() => server.close());

    async function newPool(name: string, body: Record<string, unknown> = {}): Promise<WorkPool> {
      const { status, body: pool } = await server.call<WorkPool>("POST", "/work_pools/", { name, type: "process", ...body });
      expect(status, JSON.stringify(pool)).toBe(201);
      return pool;
    }
    async function readPool(name: string): Promise<WorkPool> {
      const { status, body } = await server.call<WorkPool>("GET", `/work_pools/${encodeURIComponent(name)}`);
      expect(status).toBe(200);
      return body;
    }
    async function newQueue(pool: string, body: Record<string, unknown>): Promise<WorkQueue> {
      const { status, body: queue } = await server.call<WorkQueue>("POST", `/work_pools/${pool}/queues`, body);
      expect(status, JSON.stringify(queue)).toBe(201);
      return queue;
    }
    async function queues(pool: string, body: Record<string, unknown> = {}): Promise<WorkQueue[]> {
      const { status, body: list } = await server.call<WorkQueue[]>("POST", `/work_pools/${pool}/queues/filter`, body);
      expect(status).toBe(200);
      return list;
    }
    async function readQueue(pool: string, name: string): Promise<WorkQueue> {
      const { status, body } = await server.call<WorkQueue>("GET", `/work_pools/${pool}/queues/${name}`);
      expect(status).toBe(200);
      return body;
    }
    async function newRun(body: Record<string, unknown>): Promise<FlowRun> {
      const { status, body: run } = await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, ...body });
      expect(status, JSON.stringify(run)).toBe(201);
      return run;
    }
    /** A Scheduled run in `pool` due `minutes` from now (negative: overdue). */
    function scheduledRun(pool: string, minutes: number, extra: Record<string, unknown> = {}): Promise<FlowRun> {
      return newRun({ work_pool_name: pool, state: { type: "SCHEDULED", state_details: { scheduled_time: minutesFromNow(minutes) } }, ...extra });
    }
    async function propose(id: string, type: string): Promise<string> {
      return (await server.call<{ status: string }>("POST", `/flow_runs/${id}/set_state`, { state: { type } })).body.status;
    }
    async function poll(pool: string, body: Record<string, unknown> = {}): Promise<WorkerFlowRunResponse[]> {
      const { status, body: runs } = await server.call<WorkerFlowRunResponse[]>("POST", `/work_pools/${pool}/get_scheduled_flow_runs`, body);
      expect(status, JSON.stringify(runs)).toBe(200);
      return runs;
    }
    async function expect422(method: string, path: string, body: unknown, field: string): Promise<string> {
      const response = await server.call<ValidationError>(method, path, body);
      expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(422);
      expect(response.body.exception_message).toContain(field);
      return response.body.exception_message;
    }

    describe("pools", () => {
      it("creates a process pool with the process worker's job template and a default queue", async () => {
        const pool = await newPool("proc", { description: "local processes" });
        expect(pool).toMatchObject({ name: "proc", type: "process", description: "local processes", is_paused: false, concurrency_limit: null, active_slots: null, status: "NOT_READY" });
        const template = pool.base_job_template as { job_configuration: Record<string, string>; variables: { properties: Record<string, unknown> } };
        expect(Object.keys(template.job_configuration).sort()).toEqual(["command", "env", "labels", "name", "stream_output", "working_dir"]);
        expect(template.job_configuration["command"]).toBe("{{ command }}");
        expect(Object.keys(template.variables.properties).sort()).toEqual(["command", "env", "labels", "name", "stream_output", "working_dir"]);
        expect(pool.storage_configuration).toEqual({ bundle_upload_step: null, bundle_execution_step: null, default_result_storage_block_id: null });
        const [only] = await queues("proc");
        expect(only).toMatchObject({ id: pool.default_queue_id, name: "default", priority: 1, work_pool_id: pool.id, work_pool_name: "proc", is_paused: false, status: "NOT_READY" });
        expect(await queues("proc")).toHaveLength(1);
      });

      it("keeps a template it is given, and the contract's default type when none is given", async () => {
        const template = {
          job_configuration: { command: "{{ command }}", image: "{{ image }}", token: "{{ prefect.blocks.secret.token }}", home: "{{ $HOME }}" },
          variables: { type: "object", properties: { command: { type: "string" }, image: { type: "string", default: "node:20" } } },
        };
        const pool = await newPool("custom", { base_job_template: template, concurrency_limit: 4 });
        expect(pool.base_job_template).toEqual(template);
        expect(pool.active_slots).toBe(0);
        const untyped = await server.call<WorkPool>("POST", "/work_pools/", { name: "untyped" });
        expect(untyped.status).toBe(201);
        expect(untyped.body).toMatchObject({ type: "prefect-agent", base_job_template: {}, status: null });
      });

      it("refuses a template whose job configuration uses an undeclared variable, naming it (422)", async () => {
        const message = await expect422(
          "POST",
          "/work_pools/",
          { name: "bad-template", type: "process", base_job_template: { job_configuration: { command: "{{ command }} --x {{ missing_one }}" }, variables: { properties: { command: {} } } } },
          "base_job_template",
        );
        expect(message).toContain("missing_one");
        await expect422("POST", "/work_pools/", { name: "half-template", base_job_template: { job_configuration: { a: "b" } } }, "base_job_template");
        expect((await server.call("GET", "/work_pools/bad-template")).status).toBe(404);
      });

      it("refuses bad names and fields (422) and a taken name (409)", async () => {
        await expect422("POST", "/work_pools/", { name: "a/b" }, "name");
        await expect422("POST", "/work_pools/", { name: "" }, "name");
        await expect422("POST", "/work_pools/", {}, "name");
        await expect422("POST", "/work_pools/", { name: "x", concurrency_limit: -1 }, "concurrency_limit");
        await expect422("POST", "/work_pools/", { name: "x", concurrency_limit: 1.5 }, "concurrency_limit");
        await expect422("POST", "/work_pools/", { name: "x", is_paused: "yes" }, "is_paused");
        await expect422("POST", "/work_pools/", { name: "x", base_job_template: [] }, "base_job_template");
        await expect422("POST", "/work_pools/", { name: "x", surprise: 1 }, "surprise");
        await expect422("POST", "/work_pools/", { name: "x", storage_configuration: { default_result_storage_block_id: "nope" } }, "storage_configuration.default_result_storage_block_id");
        await newPool("taken");
        const again = await server.call<{ detail: string }>("POST", "/work_pools/", { name: "taken" });
        expect(again.status).toBe(409);
        expect(again.body.detail).toContain("taken");
      });

      it("answers 404 naming an unknown pool on every pool route", async () => {
        for (const [method, path, body] of [
          ["GET", "/work_pools/nowhere", undefined],
          ["PATCH", "/work_pools/nowhere", { description: "x" }],
          ["DELETE", "/work_pools/nowhere", undefined],
          ["POST", "/work_pools/nowhere/get_scheduled_flow_runs", {}],
          ["POST", "/work_pools/nowhere/concurrency_status", {}],
          ["POST", "/work_pools/nowhere/queues", { name: "q" }],
          ["GET", "/work_pools/nowhere/queues/default", undefined],
          ["PATCH", "/work_pools/nowhere/queues/default", { priority: 2 }],
          ["DELETE", "/work_pools/nowhere/queues/default", undefined],
          ["POST", "/work_pools/nowhere/queues/filter", {}],
          ["POST", "/work_pools/nowhere/workers/heartbeat", { name: "w" }],
          ["POST", "/work_pools/nowhere/workers/filter", {}],
          ["DELETE", "/work_pools/nowhere/workers/w", undefined],
        ] as const) {
          const response = await server.call<{ detail: string }>(method, path, body);
          expect(response.status, `${method} ${path}`).toBe(404);
          expect(response.body.detail, `${method} ${path}`).toContain("nowhere");
        }
      });

      it("updates the fields sent (204), pauses and resumes with the matching status", async () => {
        await newPool("patched", { description: "before", concurrency_limit: 2 });
        expect((await server.call("PATCH", "/work_pools/patched", { description: "after" })).status).toBe(204);
        expect(await readPool("patched")).toMatchObject({ description: "after", concurrency_limit: 2 });
        expect((await server.call("PATCH", "/work_pools/patched", { concurrency_limit: null })).status).toBe(204);
        expect(await readPool("patched")).toMatchObject({ concurrency_limit: null, active_slots: null, description: "after" });

        expect((await server.call("PATCH", "/work_pools/patched", { is_paused: true })).status).toBe(204);
        expect(await readPool("patched")).toMatchObject({ is_paused: true, status: "PAUSED" });
        expect((await server.call("PATCH", "/work_pools/patched", { is_paused: false })).status).toBe(204);
        expect(await readPool("patched")).toMatchObject({ is_paused: false, status: "NOT_READY" });

        // With a worker online, resuming makes the pool READY.
        expect((await server.call("PATCH", "/work_pools/patched", { is_paused: true })).status).toBe(204);
        expect((await server.call("POST", "/work_pools/patched/workers/heartbeat", { name: "w" })).status).toBe(204);
        expect((await readPool("patched")).status).toBe("PAUSED");
        expect((await server.call("PATCH", "/work_pools/patched", { is_paused: false })).status).toBe(204);
        expect((await readPool("patched")).status).toBe("READY");

        await expect422("PATCH", "/work_pools/patched", { base_job_template: { job_configuration: { a: "{{ nope }}" }, variables: { properties: {} } } }, "nope");
        await expect422("PATCH", "/work_pools/patched", { concurrency_limit: -2 }, "concurrency_limit");
        await expect422("PATCH", "/work_pools/patched", { name: "renamed" }, "name");
      });

      it("filters and counts pools by id, name and type, listing them by name", async () => {
        const a = await newPool("flt-b", { type: "kubernetes" });
        await newPool("flt-a");
        await newPool("flt-c");
        const list = async (body: Record<string, unknown>) => {
          const { status, body: pools } = await server.call<WorkPool[]>("POST", "/work_pools/filter", body);
          expect(status).toBe(200);
          return pools.map((p) => p.name).filter((n) => n.startsWith("flt-"));
        };
        expect(await list({})).toEqual(["flt-a", "flt-b", "flt-c"]);
        expect(await list({ work_pools: { name: { any_: ["flt-c", "flt-a"] } } })).toEqual(["flt-a", "flt-c"]);
        expect(await list({ work_pools: { type: { any_: ["kubernetes"] } } })).toEqual(["flt-b"]);
        expect(await list({ work_pools: { id: { any_: [a.id] } } })).toEqual(["flt-b"]);
        expect(await list({ work_pools: { operator: "or_", id: { any_: [a.id] }, name: { any_: ["flt-c"] } } })).toEqual(["flt-b", "flt-c"]);
        expect(await list({ work_pools: { name: { any_: [] } } })).toEqual([]);
        const page = await server.call<WorkPool[]>("POST", "/work_pools/filter", { work_pools: { name: { any_: ["flt-a", "flt-b", "flt-c"] } }, limit: 1, offset: 1 });
        expect(page.body.map((p) => p.name)).toEqual(["flt-b"]);
        const count = await server.call<number>("POST", "/work_pools/count", { work_pools: { name: { any_: ["flt-a", "flt-b", "nope"] } } });
        expect(count).toEqual({ status: 200, body: 2 });
        await expect422("POST", "/work_pools/filter", { limit: -1 }, "limit");
        await expect422("POST", "/work_pools/filter", { work_pools: { id: { any_: ["not-a-uuid"] } } }, "work_pools.id.any_");
        await expect422("POST", "/work_pools/count", { work_pools: { tags: {} } }, "work_pools");
      });

      it("deletes a pool with its queues and workers; its runs stay, unlinked", async () => {
        await newPool("doomed");
        await newQueue("doomed", { name: "extra" });
        expect((await server.call("POST", "/work_pools/doomed/workers/heartbeat", { name: "w" })).status).toBe(204);
        const run = await scheduledRun("doomed", -1);
        expect(run.work_pool_id).not.toBeNull();
        expect((await server.call("DELETE", "/work_pools/doomed")).status).toBe(204);
        expect((await server.call("GET", "/work_pools/doomed")).status).toBe(404);
        expect((await server.call("DELETE", "/work_pools/doomed")).status).toBe(404);
        const kept = await server.call<FlowRun>("GET", `/flow_runs/${run.id}`);
        expect(kept.body).toMatchObject({ id: run.id, work_pool_id: null, work_queue_id: null, work_pool_name: "doomed" });
        const orphans = await server.db.kysely.selectFrom("work_queue").select("id").where("work_pool_id", "=", run.work_pool_id!).execute();
        expect(orphans).toEqual([]);
        // The name is free again.
        await newPool("doomed");
      });
    });

    describe("queues", () => {
      it("gives a new queue the first free priority, or moves the others down for the one asked", async () => {
        await newPool("prio");
        const second = await newQueue("prio", { name: "second", description: "two", concurrency_limit: 3 });
        expect(second).toMatchObject({ priority: 2, description: "two", concurrency_limit: 3, active_slots: 0, work_pool_name: "prio", status: "NOT_READY", filter: null });
        const urgent = await newQueue("prio", { name: "urgent", priority: 1 });
        expect(urgent.priority).toBe(1);
        expect((await queues("prio")).map((q) => [q.name, q.priority])).toEqual([
          ["urgent", 1],
          ["default", 2],
          ["second", 3],
        ]);
        const paused = await newQueue("prio", { name: "later", is_paused: true, priority: 10 });
        expect(paused).toMatchObject({ priority: 10, is_paused: true, status: "PAUSED" });
        expect((await queues("prio")).map((q) => q.name)).toEqual(["urgent", "default", "second", "later"]);
      });

      it("reads, updates and renames a queue; a new priority reorders the pool's queues", async () => {
        await newPool("edit");
        await newQueue("edit", { name: "a" });
        await newQueue("edit", { name: "b" });
        expect((await server.call("PATCH", "/work_pools/edit/queues/b", { priority: 1, description: "first now", concurrency_limit: 1 })).status).toBe(204);
        expect((await queues("edit")).map((q) => [q.name, q.priority])).toEqual([
          ["b", 1],
          ["default", 2],
          ["a", 3],
        ]);
        expect(await readQueue("edit", "b")).toMatchObject({ description: "first now", concurrency_limit: 1, active_slots: 0 });
        expect((await server.call("PATCH", "/work_pools/edit/queues/b", { name: "bee" })).status).toBe(204);
        expect((await server.call("GET", "/work_pools/edit/queues/b")).status).toBe(404);
        expect((await readQueue("edit", "bee")).priority).toBe(1);
        expect((await server.call("PATCH", "/work_pools/edit/queues/bee", { is_paused: true })).status).toBe(204);
        expect(await readQueue("edit", "bee")).toMatchObject({ is_paused: true, status: "PAUSED" });
        expect((await server.call("PATCH", "/work_pools/edit/queues/bee", { is_paused: false })).status).toBe(204);
        expect(await readQueue("edit", "bee")).toMatchObject({ is_paused: false, status: "NOT_READY" });
        const clash = await server.call<{ detail: string }>("PATCH", "/work_pools/edit/queues/bee", { name: "a" });
        expect(clash.status).toBe(409);
        await expect422("PATCH", "/work_pools/edit/queues/bee", { priority: 0 }, "priority");
        await expect422("PATCH", "/work_pools/edit/queues/bee", { name: "x/y" }, "name");
        await expect422("PATCH", "/work_pools/edit/queues/bee", { last_polled: "yesterday" }, "last_polled");
        const missing = await server.call<{ detail: string }>("PATCH", "/work_pools/edit/queues/nope", { priority: 2 });
        expect(missing.status).toBe(404);
        expect(missing.body.detail).toContain("nope");
      });

      it("refuses a duplicate name in one pool (409) but not across pools, and bad input (422)", async () => {
        await newPool("dup-1");
        await newPool("dup-2");
        await newQueue("dup-1", { name: "shared" });
        await newQueue("dup-2", { name: "shared" });
        expect((await server.call("POST", "/work_pools/dup-1/queues", { name: "shared" })).status).toBe(409);
        expect((await server.call("POST", "/work_pools/dup-1/queues", { name: "default" })).status).toBe(409);
        await expect422("POST", "/work_pools/dup-1/queues", { name: "a/b" }, "name");
        await expect422("POST", "/work_pools/dup-1/queues", { name: "p", priority: 0 }, "priority");
        await expect422("POST", "/work_pools/dup-1/queues", { name: "p", concurrency_limit: -1 }, "concurrency_limit");
        await expect422("POST", "/work_pools/dup-1/queues", { name: "p", work_pool_id: "x" }, "work_pool_id");
      });

      it("filters a pool's queues by id, name and case-insensitive prefix", async () => {
        await newPool("qf");
        const alpha = await newQueue("qf", { name: "Alpha-1" });
        await newQueue("qf", { name: "alpha-2" });
        await newQueue("qf", { name: "beta" });
        const names = async (work_queues: Record<string, unknown>) => (await queues("qf", { work_queues })).map((q) => q.name);
        expect(await names({ name: { startswith_: ["ALPHA"] } })).toEqual(["Alpha-1", "alpha-2"]);
        expect(await names({ name: { any_: ["beta", "default"] } })).toEqual(["default", "beta"]);
        expect(await names({ id: { any_: [alpha.id] } })).toEqual(["Alpha-1"]);
        expect(await names({ name: { startswith_: ["a_"] } })).toEqual([]);
        expect((await queues("qf", { limit: 2, offset: 1 })).map((q) => q.name)).toEqual(["Alpha-1", "alpha-2"]);
        await expect422("POST", "/work_pools/qf/queues/filter", { work_queues: { name: { startswith_: "a" } } }, "work_queues.name.startswith_");
      });

      it("deletes a queue (its runs stay, unlinked) but never the pool's default queue (409)", async () => {
        const pool = await newPool("qdel");
        await newQueue("qdel", { name: "gone" });
        const run = await scheduledRun("qdel", -1, { work_queue_name: "gone" });
        expect((await server.call("DELETE", "/work_pools/qdel/queues/gone")).status).toBe(204);
        expect((await server.call("DELETE", "/work_pools/qdel/queues/gone")).status).toBe(404);
        expect((await server.call<FlowRun>("GET", `/flow_runs/${run.id}`)).body).toMatchObject({ work_queue_id: null, work_queue_name: "gone", work_pool_id: pool.id });
        const refused = await server.call<{ detail: string }>("DELETE", "/work_pools/qdel/queues/default");
        expect(refused.status).toBe(409);
        expect(refused.body.detail).toContain("default queue");
        expect((await queues("qdel")).map((q) => q.name)).toEqual(["default"]);
      });
    });

    describe("flow runs sent to a pool", () => {
      it("are linked to the pool's default queue, or to the queue named", async () => {
        const pool = await newPool("placed");
        const fast = await newQueue("placed", { name: "fast" });
        const byDefault = await newRun({ work_pool_name: "placed" });
        expect(byDefault).toMatchObject({ work_pool_id: pool.id, work_pool_name: "placed", work_queue_id: pool.default_queue_id, work_queue_name: "default" });
        const named = await newRun({ work_pool_name: "placed", work_queue_name: "fast" });
        expect(named).toMatchObject({ work_pool_id: pool.id, work_queue_id: fast.id, work_queue_name: "fast" });
        const read = await server.call<FlowRun>("GET", `/flow_runs/${named.id}`);
        expect(read.body).toMatchObject({ work_pool_id: pool.id, work_queue_id: fast.id });
        // A queue name without a pool is kept as given, unresolved.
        const bare = await newRun({ work_queue_name: "anything" });
        expect(bare).toMatchObject({ work_queue_name: "anything", work_queue_id: null, work_pool_id: null });
      });

      it("answer 404 naming an unknown pool or queue, and create nothing", async () => {
        await newPool("placed-2");
        const pool = await server.call<{ detail: string }>("POST", "/flow_runs/", { flow_id: flowId, work_pool_name: "no-such-pool", name: "not-created-1" });
        expect(pool.status).toBe(404);
        expect(pool.body.detail).toContain("no-such-pool");
        const queue = await server.call<{ detail: string }>("POST", "/flow_runs/", { flow_id: flowId, work_pool_name: "placed-2", work_queue_name: "no-such-queue", name: "not-created-2" });
        expect(queue.status).toBe(404);
        expect(queue.body.detail).toContain("no-such-queue");
        const count = await server.call<number>("POST", "/flow_runs/count", { flow_runs: { name: { any_: ["not-created-1", "not-created-2"] } } });
        expect(count.body).toBe(0);
      });

      it("from a deployment go to the deployment's pool and queue", async () => {
        const pool = await newPool("deployed");
        const nightly = await newQueue("deployed", { name: "nightly" });
        const dep = (await server.call<Deployment>("POST", "/deployments/", { name: "to-pool", flow_id: flowId, work_pool_name: "deployed", work_queue_name: "nightly" })).body;
        const run = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, {});
        expect(run.status).toBe(201);
        expect(run.body).toMatchObject({ deployment_id: dep.id, work_pool_id: pool.id, work_pool_name: "deployed", work_queue_id: nightly.id, work_queue_name: "nightly" });
        const override = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, { work_queue_name: "default" });
        expect(override.body.work_queue_id).toBe(pool.default_queue_id);
        // The deployment's pool deleted since: its runs have nowhere to go.
        await newPool("vanished");
        const lost = (await server.call<Deployment>("POST", "/deployments/", { name: "lost", flow_id: flowId, work_pool_name: "vanished" })).body;
        expect((await server.call("DELETE", "/work_pools/vanished")).status).toBe(204);
        const refused = await server.call<{ detail: string }>("POST", `/deployments/${lost.id}/create_flow_run`, {});
        expect(refused.status).toBe(404);
        expect(refused.body.detail).toContain("vanished");
      });
    });

    describe("get_scheduled_flow_runs", () => {
      it("returns due Scheduled runs (Late and AwaitingRetry too) by queue priority, then time", async () => {
        const pool = await newPool("due");
        const high = await newQueue("due", { name: "high", priority: 1 });
        const inDefault = [await scheduledRun("due", -5), await scheduledRun("due", -30)];
        const inHigh = [await scheduledRun("due", -1, { work_queue_name: "high" }), await scheduledRun("due", -10, { work_queue_name: "high" })];
        const late = await scheduledRun("due", -20);
        expect((await server.call<{ status: string }>("POST", `/flow_runs/${late.id}/set_state`, { state: { type: "SCHEDULED", name: "Late", state_details: { scheduled_time: minutesFromNow(-20) } } })).body.status).toBe("ACCEPT");
        const retrying = await newRun({ work_pool_name: "due", state: { type: "SCHEDULED", name: "AwaitingRetry", state_details: { scheduled_time: minutesFromNow(-2) } } });
        await scheduledRun("due", 30);
        const running = await scheduledRun("due", -40);
        expect(await propose(running.id, "PENDING")).toBe("ACCEPT");
        await newRun({ work_pool_name: "due" });

        const found = await poll("due", { scheduled_before: new Date().toISOString() });
        expect(found.map((r) => r.flow_run.id)).toEqual([inHigh[1]!.id, inHigh[0]!.id, inDefault[1]!.id, late.id, inDefault[0]!.id, retrying.id]);
        expect(found[0]).toMatchObject({ work_pool_id: pool.id, work_queue_id: high.id });
        expect(found[2]!.work_queue_id).toBe(pool.default_queue_id);
        expect(found[3]!.flow_run.state_name).toBe("Late");
        // Polling claims nothing: the same runs are offered again.
        expect((await poll("due", { scheduled_before: new Date().toISOString() })).map((r) => r.flow_run.id)).toEqual(found.map((r) => r.flow_run.id));
        // Without scheduled_before every Scheduled run is offered, the future one included.
        expect(await poll("due")).toHaveLength(7);
      });

      it("honours scheduled_after, limit and work_queue_names", async () => {
        await newPool("window");
        await newQueue("window", { name: "other" });
        const old = await scheduledRun("window", -60);
        const recent = await scheduledRun("window", -5);
        const other = await scheduledRun("window", -3, { work_queue_name: "other" });
        const now = new Date().toISOString();
        expect((await poll("window", { scheduled_before: now, scheduled_after: minutesFromNow(-10) })).map((r) => r.flow_run.id)).toEqual([recent.id, other.id]);
        expect((await poll("window", { scheduled_before: now, limit: 1 })).map((r) => r.flow_run.id)).toEqual([old.id]);
        expect((await poll("window", { scheduled_before: now, work_queue_names: ["other"] })).map((r) => r.flow_run.id)).toEqual([other.id]);
        expect(await poll("window", { limit: 0 })).toEqual([]);
        const unknown = await server.call<{ detail: string }>("POST", "/work_pools/window/get_scheduled_flow_runs", { work_queue_names: ["other", "ghost"] });
        expect(unknown.status).toBe(404);
        expect(unknown.body.detail).toContain("ghost");
      });

      it("never offers more runs than the pool's or a queue's free slots", async () => {
        await newPool("capped", { concurrency_limit: 3 });
        await newQueue("capped", { name: "one-at-a-time", concurrency_limit: 1, priority: 1 });
        const queued = [await scheduledRun("capped", -9, { work_queue_name: "one-at-a-time" }), await scheduledRun("capped", -8, { work_queue_name: "one-at-a-time" })];
        const plain = [await scheduledRun("capped", -7), await scheduledRun("capped", -6), await scheduledRun("capped", -5)];
        // Queue limit 1: one of its runs; pool limit 3: three in all.
        expect((await poll("capped")).map((r) => r.flow_run.id)).toEqual([queued[0]!.id, plain[0]!.id, plain[1]!.id]);
        expect(await propose(queued[0]!.id, "PENDING")).toBe("ACCEPT");
        // The queue is full now, and the pool has two slots left.
        expect((await poll("capped")).map((r) => r.flow_run.id)).toEqual([plain[0]!.id, plain[1]!.id]);
        expect(await propose(plain[0]!.id, "PENDING")).toBe("ACCEPT");
        expect(await propose(plain[1]!.id, "PENDING")).toBe("ACCEPT");
        expect(await poll("capped")).toEqual([]);
        expect(await propose(plain[0]!.id, "RUNNING")).toBe("ACCEPT");
        expect(await propose(plain[0]!.id, "COMPLETED")).toBe("ACCEPT");
        expect((await poll("capped")).map((r) => r.flow_run.id)).toEqual([plain[2]!.id]);
        const pool = await readPool("capped");
        expect(pool.active_slots).toBe(2);
        expect((await readQueue("capped", "one-at-a-time")).active_slots).toBe(1);
      });

      it("skips paused queues and paused pools", async () => {
        await newPool("pausing");
        await newQueue("pausing", { name: "held", is_paused: true });
        const open = await scheduledRun("pausing", -2);
        await scheduledRun("pausing", -3, { work_queue_name: "held" });
        expect((await poll("pausing")).map((r) => r.flow_run.id)).toEqual([open.id]);
        expect((await server.call("PATCH", "/work_pools/pausing", { is_paused: true })).status).toBe(204);
        expect(await poll("pausing")).toEqual([]);
        expect((await server.call("PATCH", "/work_pools/pausing", { is_paused: false })).status).toBe(204);
        expect((await server.call("PATCH", "/work_pools/pausing/queues/held", { is_paused: false })).status).toBe(204);
        expect(await poll("pausing")).toHaveLength(2);
      });

      it("marks the pool, the polled queues and their deployments polled and READY (paused ones stay PAUSED)", async () => {
        const pool = await newPool("polled");
        await newQueue("polled", { name: "quiet" });
        await newQueue("polled", { name: "asleep", is_paused: true });
        const viaDefault = (await server.call<Deployment>("POST", "/deployments/", { name: "polled-default", flow_id: flowId, work_pool_name: "polled" })).body;
        const viaQuiet = (await server.call<Deployment>("POST", "/deployments/", { name: "polled-quiet", flow_id: flowId, work_pool_name: "polled", work_queue_name: "quiet" })).body;
        expect(pool.status).toBe("NOT_READY");
        const before = Date.now();
        await poll("polled", { work_queue_names: ["default", "asleep"] });
        const after = await readPool("polled");
        expect(after.status).toBe("READY");
        const polledQueue = await readQueue("polled", "default");
        expect(polledQueue.status).toBe("READY");
        expect(Date.parse(polledQueue.last_polled!)).toBeGreaterThanOrEqual(before - 1000);
        expect(await readQueue("polled", "asleep")).toMatchObject({ status: "PAUSED" });
        expect((await readQueue("polled", "asleep")).last_polled).not.toBeNull();
        expect(await readQueue("polled", "quiet")).toMatchObject({ status: "NOT_READY", last_polled: null });
        const dep = async (id: string) => (await server.call<Deployment>("GET", `/deployments/${id}`)).body;
        expect(await dep(viaDefault.id)).toMatchObject({ status: "READY" });
        expect((await dep(viaDefault.id)).last_polled).not.toBeNull();
        expect(await dep(viaQuiet.id)).toMatchObject({ status: "NOT_READY", last_polled: null });
        await poll("polled");
        expect(await dep(viaQuiet.id)).toMatchObject({ status: "READY" });
      });

      it("answers 20 workers polling at once, without error", async () => {
        await newPool("crowded", { concurrency_limit: 5 });
        await Promise.all(Array.from({ length: 10 }, (_, i) => scheduledRun("crowded", -i - 1)));
        const responses = await Promise.all(
          Array.from({ length: 20 }, () => server.call<WorkerFlowRunResponse[]>("POST", "/work_pools/crowded/get_scheduled_flow_runs", { scheduled_before: new Date().toISOString() })),
        );
        for (const response of responses) {
          expect(response.status).toBe(200);
          expect(response.body).toHaveLength(5);
        }
      });

      it("refuses a bad body (422 naming the field)", async () => {
        await newPool("strict-poll");
        await expect422("POST", "/work_pools/strict-poll/get_scheduled_flow_runs", { scheduled_before: "soon" }, "scheduled_before");
        await expect422("POST", "/work_pools/strict-poll/get_scheduled_flow_runs", { scheduled_after: 5 }, "scheduled_after");
        await expect422("POST", "/work_pools/strict-poll/get_scheduled_flow_runs", { limit: -1 }, "limit");
        await expect422("POST", "/work_pools/strict-poll/get_scheduled_flow_runs", { work_queue_names: "default" }, "work_queue_names");
        await expect422("POST", "/work_pools/strict-poll/get_scheduled_flow_runs", { work_queue_ids: [] }, "work_queue_ids");
      });
    });

    describe("workers", () => {
      it("a heartbeat creates or refreshes the worker, ONLINE, and makes the pool READY", async () => {
        await newPool("hb");
        expect((await readPool("hb")).status).toBe("NOT_READY");
        expect((await server.call("POST", "/work_pools/hb/workers/heartbeat", { name: "alpha", heartbeat_interval_seconds: 15 })).status).toBe(204);
        const [first] = (await server.call<Worker[]>("POST", "/work_pools/hb/workers/filter", {})).body;
        expect(first).toMatchObject({ name: "alpha", status: "ONLINE", heartbeat_interval_seconds: 15, work_pool_id: (await readPool("hb")).id });
        expect((await readPool("hb")).status).toBe("READY");
        await new Promise((r) => setTimeout(r, 5));
        // Prefect's workers also send metadata and return_id; they are accepted.
        expect((await server.call("POST", "/work_pools/hb/workers/heartbeat", { name: "alpha", metadata: { integrations: [] }, return_id: true })).status).toBe(204);
        const workers = (await server.call<Worker[]>("POST", "/work_pools/hb/workers/filter", {})).body;
        expect(workers).toHaveLength(1);
        expect(workers[0]!.id).toBe(first!.id);
        expect(workers[0]!.heartbeat_interval_seconds).toBe(15);
        expect(Date.parse(workers[0]!.last_heartbeat_time!)).toBeGreaterThan(Date.parse(first!.last_heartbeat_time!));
      });

      it("a heartbeat leaves a paused pool PAUSED", async () => {
        await newPool("hb-paused", { is_paused: true });
        expect((await server.call("POST", "/work_pools/hb-paused/workers/heartbeat", { name: "w" })).status).toBe(204);
        expect((await readPool("hb-paused")).status).toBe("PAUSED");
      });

      it("filters workers by status and heartbeat time, most recent first, and deletes them", async () => {
        await newPool("crew");
        for (const name of ["w1", "w2", "w3"]) {
          expect((await server.call("POST", "/work_pools/crew/workers/heartbeat", { name })).status).toBe(204);
          await new Promise((r) => setTimeout(r, 5));
        }
        const pool = await readPool("crew");
        await server.db.kysely.updateTable("worker").set({ status: "OFFLINE" }).where("work_pool_id", "=", pool.id).where("name", "=", "w2").execute();
        const names = async (workers?: Record<string, unknown>) => (await server.call<Worker[]>("POST", "/work_pools/crew/workers/filter", workers ? { workers } : {})).body.map((w) => w.name);
        expect(await names()).toEqual(["w3", "w2", "w1"]);
        expect(await names({ status: { any_: ["ONLINE"] } })).toEqual(["w3", "w1"]);
        expect(await names({ status: { not_any_: ["ONLINE"] } })).toEqual(["w2"]);
        const all = (await server.call<Worker[]>("POST", "/work_pools/crew/workers/filter", {})).body;
        const w2Time = all.find((w) => w.name === "w2")!.last_heartbeat_time!;
        expect(await names({ last_heartbeat_time: { after_: w2Time } })).toEqual(["w3", "w2"]);
        expect(await names({ last_heartbeat_time: { before_: w2Time } })).toEqual(["w2", "w1"]);
        expect((await server.call<Worker[]>("POST", "/work_pools/crew/workers/filter", { limit: 1, offset: 1 })).body.map((w) => w.name)).toEqual(["w2"]);
        expect((await server.call("DELETE", "/work_pools/crew/workers/w2")).status).toBe(204);
        expect(await names()).toEqual(["w3", "w1"]);
        const again = await server.call<{ detail: string }>("DELETE", "/work_pools/crew/workers/w2");
        expect(again.status).toBe(404);
        expect(again.body.detail).toContain("w2");
      });

      it("refuses bad heartbeats and filters (422 naming the field)", async () => {
        await newPool("hb-bad");
        await expect422("POST", "/work_pools/hb-bad/workers/heartbeat", {}, "name");
        await expect422("POST", "/work_pools/hb-bad/workers/heartbeat", { name: "" }, "name");
        await expect422("POST", "/work_pools/hb-bad/workers/heartbeat", { name: "w", heartbeat_interval_seconds: "often" }, "heartbeat_interval_seconds");
        await expect422("POST", "/work_pools/hb-bad/workers/filter", { workers: { status: { any_: ["BUSY"] } } }, "workers.status.any_");
        await expect422("POST", "/work_pools/hb-bad/workers/filter", { workers: { last_heartbeat_time: { after_: "x" } } }, "workers.last_heartbeat_time.after_");
      });
    });

    describe("concurrency_status", () => {
      it("reports the pool's slots in use and each queue's, with the runs holding them", async () => {
        await newPool("status", { concurrency_limit: 10 });
        await newQueue("status", { name: "b", concurrency_limit: 4 });
        const holders = [await scheduledRun("status", -3), await scheduledRun("status", -2), await scheduledRun("status", -1, { work_queue_name: "b" })];
        for (const run of holders) expect(await propose(run.id, "PENDING")).toBe("ACCEPT");
        expect(await propose(holders[0]!.id, "RUNNING")).toBe("ACCEPT");
        await scheduledRun("status", -1);
        const { status, body } = await server.call<WorkPoolConcurrencyStatus>("POST", "/work_pools/status/concurrency_status", {});
        expect(status).toBe(200);
        expect(body).toMatchObject({ active_slots: 3, concurrency_limit: 10, count: 2, page: 1, pages: 1 });
        expect(body.queues.map((q) => [q.queue_name, q.active_slots, q.concurrency_limit, q.flow_run_count])).toEqual([
          ["default", 2, null, 2],
          ["b", 1, 4, 1],
        ]);
        const defaultRuns = body.queues[0]!.flow_runs;
        expect(defaultRuns.map((r) => r.id).sort()).toEqual([holders[0]!.id, holders[1]!.id].sort());
        expect(defaultRuns.find((r) => r.id === holders[0]!.id)).toMatchObject({ state_type: "RUNNING", state_name: "Running" });
        expect(defaultRuns[0]!.time_in_current_state).toBeGreaterThanOrEqual(0);
        const paged = await server.call<WorkPoolConcurrencyStatus>("POST", "/work_pools/status/concurrency_status", { limit: 1, page: 2, flow_run_limit: 0 });
        expect(paged.body).toMatchObject({ count: 2, limit: 1, pages: 2, page: 2 });
        expect(paged.body.queues.map((q) => [q.queue_name, q.flow_runs.length])).toEqual([["b", 0]]);
        await expect422("POST", "/work_pools/status/concurrency_status", { flow_run_limit: 201 }, "flow_run_limit");
        await expect422("POST", "/work_pools/status/concurrency_status", { page: 0 }, "page");
      });
    });

    describe.skipIf(!contract)("contract", () => {
      it("responses carry every property the contract lists, and the enums are the contract's", async () => {
        const schemas = contract!.components.schemas;
        const keysOf = (name: string) => Object.keys(schemas[name]!.properties ?? {});
        await newPool("shape", { concurrency_limit: 2 });
        await server.call("POST", "/work_pools/shape/workers/heartbeat", { name: "w" });
        await scheduledRun("shape", -1);
        const checks: Array<[string, unknown]> = [
          ["WorkPoolResponse", await readPool("shape")],
          ["WorkQueueResponse", await readQueue("shape", "default")],
          ["WorkerResponse", (await server.call<Worker[]>("POST", "/work_pools/shape/workers/filter", {})).body[0]],
          ["WorkerFlowRunResponse", (await poll("shape"))[0]],
          ["WorkPoolConcurrencyStatus", (await server.call("POST", "/work_pools/shape/concurrency_status", {})).body],
        ];
        for (const [name, value] of checks) {
          expect(value, name).toBeDefined();
          const missing = keysOf(name).filter((key) => !(key in (value as object)));
          expect(missing, name).toEqual([]);
        }
        expect(WorkPoolStatus.options).toEqual(schemas["WorkPoolStatus"]!.enum);
        expect(WorkQueueStatus.options).toEqual(schemas["WorkQueueStatus"]!.enum);
        expect(WorkerStatus.options).toEqual(schemas["WorkerStatus"]!.enum);
      });
    });
  });
}
