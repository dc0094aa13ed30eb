import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, OrchestrationResult, WorkerFlowRunResponse } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/**
 * A pool's and a queue's concurrency limits hold under concurrent claims: a claim
 * (SCHEDULED -> PENDING) beyond the limit is answered ABORT, atomically, on both databases.
 */
for (const dialect of DIALECTS) {
  describe(`work pool concurrency (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "pool-concurrency" })).body.id;
    });
    afterAll(() => server.close());

    async function newPool(name: string, body: Record<string, unknown> = {}): Promise<void> {
      const { status } = await server.call("POST", "/work_pools/", { name, type: "process", ...body });
      expect(status).toBe(201);
    }
    async function scheduledRuns(pool: string, count: number, queue?: string): Promise<FlowRun[]> {
      const past = new Date(Date.now() - 60_000).toISOString();
      return Promise.all(
        Array.from({ length: count }, async () => {
          const { status, body } = await server.call<FlowRun>("POST", "/flow_runs/", {
            flow_id: flowId,
            work_pool_name: pool,
            ...(queue ? { work_queue_name: queue } : {}),
            state: { type: "SCHEDULED", state_details: { scheduled_time: past } },
          });
          expect(status).toBe(201);
          return body;
        }),
      );
    }
    async function propose(id: string, type: string): Promise<OrchestrationResult> {
      const { status, body } = await server.call<OrchestrationResult>("POST", `/flow_runs/${id}/set_state`, { state: { type } });
      expect(status).toBeLessThan(300);
      return body;
    }
    async function slotHolders(pool: string): Promise<number> {
      const { body } = await server.call<{ active_slots: number }>("POST", `/work_pools/${pool}/concurrency_status`, {});
      return body.active_slots;
    }

    it("accepts exactly 3 of 20 concurrent claims of 20 different runs in a pool limited to 3", async () => {
      await newPool("limit-3", { concurrency_limit: 3 });
      const runs = await scheduledRuns("limit-3", 20);
      const results = await Promise.all(runs.map((run) => propose(run.id, "PENDING")));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === "ACCEPT")).toHaveLength(3);
      expect(statuses.filter((s) => s === "ABORT")).toHaveLength(17);
      const refusal = results.find((r) => r.status === "ABORT")!;
      expect(refusal.details).toMatchObject({ type: "abort_details" });
      expect((refusal.details as { reason: string }).reason).toMatch(/Work pool 'limit-3' is at its concurrency limit/);
      // Refused runs stay Scheduled; exactly the accepted ones hold slots.
      expect(await slotHolders("limit-3")).toBe(3);
      const listed = await server.call<FlowRun[]>("POST", "/flow_runs/filter", { flow_runs: { id: { any_: runs.map((r) => r.id) }, state: { type: { any_: ["SCHEDULED"] } } } });
      expect(listed.body).toHaveLength(17);
    });

    it("frees a slot when a run finishes, and counts Running and Cancelling runs as holding one", async () => {
      await newPool("limit-1", { concurrency_limit: 1 });
      const [first, second] = await scheduledRuns("limit-1", 2);
      expect((await propose(first!.id, "PENDING")).status).toBe("ACCEPT");
      expect((await propose(second!.id, "PENDING")).status).toBe("ABORT");
      expect((await propose(first!.id, "RUNNING")).status).toBe("ACCEPT");
      expect((await propose(second!.id, "PENDING")).status).toBe("ABORT");
      // A worker reports the process it started; without one, CANCELLING would cancel at once.
      expect((await server.call("PATCH", `/flow_runs/${first!.id}`, { infrastructure_pid: "4242" })).status).toBe(204);
      expect((await propose(first!.id, "CANCELLING")).status).toBe("ACCEPT");
      expect((await propose(second!.id, "PENDING")).status).toBe("ABORT");
      expect((await propose(first!.id, "CANCELLED")).status).toBe("ACCEPT");
      expect((await propose(second!.id, "PENDING")).status).toBe("ACCEPT");
    });

    it("refuses a late claim of a pool run another worker already finished, so it never runs twice", async () => {
      await newPool("stale-claims");
      const [run] = await scheduledRuns("stale-claims", 1);
      const offered = await server.call<WorkerFlowRunResponse[]>("POST", "/work_pools/stale-claims/get_scheduled_flow_runs", {});
      expect(offered.body.map((r) => r.flow_run.id)).toEqual([run!.id]);
      for (const type of ["PENDING", "RUNNING", "COMPLETED"]) expect((await propose(run!.id, type)).status).toBe("ACCEPT");
      const late = await propose(run!.id, "PENDING");
      expect(late.status).toBe("ABORT");
      expect((late.details as { reason: string }).reason).toMatch(/already finished/);
      expect(late.state?.type).toBe("COMPLETED");
    });

    it("a limit of 0 refuses every claim; raising it lets claims through", async () => {
      await newPool("limit-0", { concurrency_limit: 0 });
      const [run] = await scheduledRuns("limit-0", 1);
      expect((await propose(run!.id, "PENDING")).status).toBe("ABORT");
      expect((await server.call("PATCH", "/work_pools/limit-0", { concurrency_limit: 1 })).status).toBe(204);
      expect((await propose(run!.id, "PENDING")).status).toBe("ACCEPT");
    });

    it("enforces a queue's limit under concurrent claims, separately from other queues", async () => {
      await newPool("queue-limited");
      expect((await server.call("POST", "/work_pools/queue-limited/queues", { name: "narrow", concurrency_limit: 2 })).status).toBe(201);
      const narrow = await scheduledRuns("queue-limited", 10, "narrow");
      const wide = await scheduledRuns("queue-limited", 5);
      const results = await Promise.all([...narrow, ...wide].map((run) => propose(run.id, "PENDING")));
      const narrowAccepted = results.slice(0, 10).filter((r) => r.status === "ACCEPT");
      expect(narrowAccepted).toHaveLength(2);
      // The default queue has no limit and neither has the pool.
      expect(results.slice(10).every((r) => r.status === "ACCEPT")).toBe(true);
      const refusal = results.slice(0, 10).find((r) => r.status === "ABORT")!;
      expect((refusal.details as { reason: string }).reason).toMatch(/Work queue 'narrow'/);
    });

    it("does not refuse claims in a paused pool or queue (pausing only stops polls offering runs)", async () => {
      await newPool("paused-claims", { concurrency_limit: 5, is_paused: true });
      const [run] = await scheduledRuns("paused-claims", 1);
      expect((await server.call<WorkerFlowRunResponse[]>("POST", "/work_pools/paused-claims/get_scheduled_flow_runs", {})).body).toEqual([]);
      expect((await propose(run!.id, "PENDING")).status).toBe("ACCEPT");
    });

    it("4 polling workers run 60 runs, each exactly once, never more than 3 at a time, without errors", async () => {
      await newPool("four-workers", { concurrency_limit: 3 });
      expect((await server.call("POST", "/work_pools/four-workers/queues", { name: "second", priority: 2 })).status).toBe(201);
      const runs = [...(await scheduledRuns("four-workers", 30)), ...(await scheduledRuns("four-workers", 30, "second"))];
      const accepted = new Map<string, number>();
      let maxActive = 0;
      const failures: string[] = [];

      async function worker(name: string): Promise<void> {
        for (let idle = 0; idle < 50 && accepted.size < runs.length; ) {
          const heartbeat = await server.call("POST", "/work_pools/four-workers/workers/heartbeat", { name, heartbeat_interval_seconds: 5 });
          if (heartbeat.status !== 204) failures.push(`heartbeat ${heartbeat.status}`);
          const poll = await server.call<WorkerFlowRunResponse[]>("POST", "/work_pools/four-workers/get_scheduled_flow_runs", {
            scheduled_before: new Date().toISOString(),
            limit: 5,
          });
          if (poll.status !== 200) {
            failures.push(`poll ${poll.status}: ${JSON.stringify(poll.body)}`);
            continue;
          }
          if (poll.body.length === 0) {
            idle++;
            await new Promise((resolve) => setTimeout(resolve, 10));
            continue;
          }
          for (const { flow_run } of poll.body) {
            const claim = await propose(flow_run.id, "PENDING");
            if (claim.status !== "ACCEPT") continue;
            accepted.set(flow_run.id, (accepted.get(flow_run.id) ?? 0) + 1);
            maxActive = Math.max(maxActive, await slotHolders("four-workers"));
            if ((await propose(flow_run.id, "RUNNING")).status !== "ACCEPT") failures.push(`run ${flow_run.id}`);
            if ((await propose(flow_run.id, "COMPLETED")).status !== "ACCEPT") failures.push(`complete ${flow_run.id}`);
          }
        }
      }

      await Promise.all(["w1", "w2", "w3", "w4"].map(worker));
      expect(failures).toEqual([]);
      expect(accepted.size).toBe(runs.length);
      expect([...accepted.values()].every((n) => n === 1)).toBe(true);
      expect(maxActive).toBeLessThanOrEqual(3);
      expect(maxActive).toBeGreaterThan(0);
      const completed = await server.call<number>("POST", "/flow_runs/count", {
        flow_runs: { id: { any_: runs.map((r) => r.id) }, state: { type: { any_: ["COMPLETED"] } } },
      });
      expect(completed.body).toBe(runs.length);
      const workers = await server.call<Array<{ name: string; status: string }>>("POST", "/work_pools/four-workers/workers/filter", {});
      expect(workers.body.map((w) => w.name).sort()).toEqual(["w1", "w2", "w3", "w4"]);
    });
  });
}
