import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, OrchestrationResult, State, TaskRun } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

for (const dialect of DIALECTS) {
  describe(`orchestration rules (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      const flow = await server.call<{ id: string }>("POST", "/flows/", { name: "rules" });
      flowId = flow.body.id;
    });
    afterAll(() => server.close());

    async function newRun(body: Record<string, unknown> = {}): Promise<FlowRun> {
      const { status, body: run } = await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, ...body });
      expect(status).toBe(201);
      return run;
    }
    async function setState(id: string, state: Record<string, unknown>, force = false, kind = "flow_runs"): Promise<OrchestrationResult> {
      const { status, body } = await server.call<OrchestrationResult>("POST", `/${kind}/${id}/set_state`, { state, force });
      expect(status).toBeLessThan(300);
      return body;
    }
    async function drive(id: string, types: string[], kind = "flow_runs"): Promise<void> {
      for (const type of types) expect((await setState(id, { type }, false, kind)).status).toBe("ACCEPT");
    }
    async function history(id: string): Promise<State[]> {
      return (await server.call<State[]>("GET", `/flow_run_states/?flow_run_id=${id}`)).body;
    }

    it("lets exactly one of 20 concurrent claimants move a run to PENDING", async () => {
      const run = await newRun({ state: { type: "SCHEDULED" } });
      const results = await Promise.all(Array.from({ length: 20 }, () => setState(run.id, { type: "PENDING" })));
      const statuses = results.map((r) => r.status);
      expect(statuses.filter((s) => s === "ACCEPT")).toHaveLength(1);
      expect(statuses.filter((s) => s === "ABORT")).toHaveLength(19);
      expect((await history(run.id)).map((s) => s.type)).toEqual(["SCHEDULED", "PENDING"]);
    });

    it("treats a repeated transition id as already done", async () => {
      const run = await newRun({ state: { type: "SCHEDULED" } });
      const transition_id = crypto.randomUUID();
      const first = await setState(run.id, { type: "PENDING", state_details: { transition_id } });
      expect(first.status).toBe("ACCEPT");
      const again = await setState(run.id, { type: "PENDING", state_details: { transition_id } });
      expect(again.status).toBe("REJECT");
      expect(again.state?.id).toBe(first.state?.id);
      expect(await history(run.id)).toHaveLength(2);
    });

    it("keeps a finished run finished, except by force", async () => {
      const run = await newRun();
      await drive(run.id, ["RUNNING", "COMPLETED"]);
      for (const type of ["CANCELLING", "PAUSED", "CRASHED"]) {
        expect((await setState(run.id, { type })).status).toBe("REJECT");
      }
      expect((await setState(run.id, { type: "SCHEDULED" })).status).toBe("REJECT");
      const forced = await setState(run.id, { type: "RUNNING" }, true);
      expect(forced.status).toBe("ACCEPT");
      const after = (await server.call<FlowRun>("GET", `/flow_runs/${run.id}`)).body;
      expect(after.state_type).toBe("RUNNING");
      expect(after.end_time).toBeNull();
      expect(after.run_count).toBe(2);
    });

    it("never reopens a COMPLETED run whose result was persisted", async () => {
      const run = await newRun();
      await drive(run.id, ["RUNNING"]);
      expect((await setState(run.id, { type: "COMPLETED", data: { type: "json", value: 42 } })).status).toBe("ACCEPT");
      const retry = await setState(run.id, { type: "RUNNING" });
      expect(retry.status).toBe("REJECT");
      expect(retry.state?.type).toBe("COMPLETED");
    });

    it("makes a run wait until its scheduled time, also after it was claimed", async () => {
      const scheduled_time = new Date(Date.now() + 60_000).toISOString();
      const run = await newRun({ state: { type: "SCHEDULED", state_details: { scheduled_time } } });
      expect(run.next_scheduled_start_time).toBe(scheduled_time);
      expect(run.expected_start_time).toBe(scheduled_time);
      const early = await setState(run.id, { type: "RUNNING" });
      expect(early.status).toBe("WAIT");
      expect(early.details).toMatchObject({ type: "wait_details" });
      const delay = (early.details as { delay_seconds: number }).delay_seconds;
      expect(delay).toBeGreaterThan(50);
      expect(delay).toBeLessThanOrEqual(60);
      expect((await setState(run.id, { type: "PENDING" })).state?.state_details.scheduled_time).toBe(scheduled_time);
      expect((await setState(run.id, { type: "RUNNING" })).status).toBe("WAIT");
    });

    it("reschedules a failed flow run while retries remain, then lets it fail", async () => {
      const run = await newRun({ empirical_policy: { retries: 1, retry_delay: 30 } });
      await drive(run.id, ["RUNNING"]);
      const before = Date.now();
      const failed = await setState(run.id, { type: "FAILED", message: "boom" });
      expect(failed.status).toBe("REJECT");
      expect(failed.state).toMatchObject({ type: "SCHEDULED", name: "AwaitingRetry", message: "boom" });
      const retryAt = Date.parse(failed.state!.state_details.scheduled_time!);
      expect(retryAt - before).toBeGreaterThanOrEqual(29_000);
      expect(retryAt - before).toBeLessThan(32_000);
      expect((await setState(run.id, { type: "RUNNING" })).status).toBe("WAIT");
      expect((await setState(run.id, { type: "RUNNING", name: "Retrying" }, true)).status).toBe("ACCEPT");
      const final = await setState(run.id, { type: "FAILED" });
      expect(final.status).toBe("ACCEPT");
      const after = (await server.call<FlowRun>("GET", `/flow_runs/${run.id}`)).body;
      expect(after.run_count).toBe(2);
      expect((await history(run.id)).map((s) => s.name)).toEqual(["Pending", "Running", "AwaitingRetry", "Retrying", "Failed"]);
    });

    it("only lets a cancelling run become CANCELLED", async () => {
      const run = await newRun();
      await drive(run.id, ["RUNNING"]);
      await server.call("PATCH", `/flow_runs/${run.id}`, { infrastructure_pid: "4242" });
      expect((await setState(run.id, { type: "CANCELLING" })).status).toBe("ACCEPT");
      for (const type of ["RUNNING", "COMPLETED", "FAILED"]) expect((await setState(run.id, { type })).status).toBe("REJECT");
      expect((await setState(run.id, { type: "CANCELLED" })).status).toBe("ACCEPT");
    });

    it("cancels a run without infrastructure directly", async () => {
      const run = await newRun({ state: { type: "SCHEDULED" } });
      const result = await setState(run.id, { type: "CANCELLING" });
      expect(result.status).toBe("REJECT");
      expect(result.state?.type).toBe("CANCELLED");
      expect((await server.call<FlowRun>("GET", `/flow_runs/${run.id}`)).body.state_type).toBe("CANCELLED");
    });

    describe("task runs", () => {
      let flowRun: FlowRun;
      let counter = 0;
      beforeAll(async () => {
        flowRun = await newRun();
        await drive(flowRun.id, ["RUNNING"]);
      });
      async function newTask(body: Record<string, unknown> = {}): Promise<TaskRun> {
        const { status, body: task } = await server.call<TaskRun>("POST", "/task_runs/", {
          flow_run_id: flowRun.id,
          task_key: "t",
          dynamic_key: String(counter++),
          ...body,
        });
        expect(status).toBe(201);
        return task;
      }

      it("records the flow run's attempt on the task run", async () => {
        const task = await newTask();
        await drive(task.id, ["RUNNING"], "task_runs");
        expect((await server.call<TaskRun>("GET", `/task_runs/${task.id}`)).body.flow_run_run_count).toBe(1);
      });

      it("retries with the delay of each attempt from a list", async () => {
        const task = await newTask({ empirical_policy: { retries: 2, retry_delay: [10, 100] } });
        await drive(task.id, ["RUNNING"], "task_runs");
        const first = await setState(task.id, { type: "FAILED" }, false, "task_runs");
        expect(first.state?.name).toBe("AwaitingRetry");
        const firstDelay = Date.parse(first.state!.state_details.scheduled_time!) - Date.parse(first.state!.timestamp);
        expect(firstDelay).toBe(10_000);
        await setState(task.id, { type: "RUNNING", name: "Retrying" }, true, "task_runs");
        const second = await setState(task.id, { type: "FAILED" }, false, "task_runs");
        const secondDelay = Date.parse(second.state!.state_details.scheduled_time!) - Date.parse(second.state!.timestamp);
        expect(secondDelay).toBe(100_000);
        await setState(task.id, { type: "RUNNING", name: "Retrying" }, true, "task_runs");
        expect((await setState(task.id, { type: "FAILED" }, false, "task_runs")).status).toBe("ACCEPT");
      });

      it("does not retry a failure declared non-retriable", async () => {
        const task = await newTask({ empirical_policy: { retries: 3 } });
        await drive(task.id, ["RUNNING"], "task_runs");
        const result = await setState(task.id, { type: "FAILED", state_details: { retriable: false } }, false, "task_runs");
        expect(result.status).toBe("ACCEPT");
      });

      it("serves a valid cached result instead of running again", async () => {
        const cache_key = `key-${crypto.randomUUID()}`;
        const cache_expiration = new Date(Date.now() + 3600_000).toISOString();
        const first = await newTask();
        await drive(first.id, ["RUNNING"], "task_runs");
        const completed = await setState(first.id, { type: "COMPLETED", data: { type: "json", value: "hello" }, state_details: { cache_key, cache_expiration } }, false, "task_runs");
        expect(completed.status).toBe("ACCEPT");

        const second = await newTask();
        const cached = await setState(second.id, { type: "RUNNING", state_details: { cache_key } }, false, "task_runs");
        expect(cached.status).toBe("REJECT");
        expect(cached.state).toMatchObject({ type: "COMPLETED", name: "Cached", data: { type: "json", value: "hello" } });

        const refresh = await newTask();
        expect((await setState(refresh.id, { type: "RUNNING", state_details: { cache_key, refresh_cache: true } }, false, "task_runs")).status).toBe("ACCEPT");
      });

      it("ignores an expired cache entry", async () => {
        const cache_key = `key-${crypto.randomUUID()}`;
        const first = await newTask();
        await drive(first.id, ["RUNNING"], "task_runs");
        const expired = new Date(Date.now() - 1000).toISOString();
        await setState(first.id, { type: "COMPLETED", data: { type: "json", value: 1 }, state_details: { cache_key, cache_expiration: expired } }, false, "task_runs");
        const second = await newTask();
        expect((await setState(second.id, { type: "RUNNING", state_details: { cache_key } }, false, "task_runs")).status).toBe("ACCEPT");
      });
    });
  });
}
