import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, TaskRun } from "@baton/core";
import { createServices, type LoopService } from "@baton/server";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

for (const dialect of DIALECTS) {
  describe(`cancellation cleanup service (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "cancel-flow" })).body.id;
    });
    afterAll(() => server.close());

    /** The service with a 60 s timeout, its clock `offsetSeconds` ahead of the real one. */
    const cleanupAt = (offsetSeconds: number): LoopService => {
      const config = { ...server.config, cancellationCleanupTimeoutSeconds: 60 };
      const clock = { now: () => new Date(Date.now() + offsetSeconds * 1000) };
      const [service] = createServices({ db: server.db, config, events: server.events, clock, logger: quiet }, ["cancellation_cleanup"]);
      return service!;
    };
    const flowRun = async (fields: { pid?: string; parentTaskRunId?: string }) => {
      const run = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, parent_task_run_id: fields.parentTaskRunId, state: { type: "PENDING" } })).body;
      if (fields.pid) expect((await server.call("PATCH", `/flow_runs/${run.id}`, { infrastructure_pid: fields.pid })).status).toBe(204);
      expect((await server.call<{ status: string }>("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING" } })).body.status).toBe("ACCEPT");
      return run.id;
    };
    let keys = 0;
    const taskRun = async (flowRunId: string, type: "RUNNING" | "PENDING" | "COMPLETED") =>
      (await server.call<TaskRun>("POST", "/task_runs/", { flow_run_id: flowRunId, task_key: "t", dynamic_key: String(keys++), state: { type } })).body.id;
    const flowState = async (id: string) => (await server.call<FlowRun>("GET", `/flow_runs/${id}`)).body.state_type;
    const taskState = async (id: string) => (await server.call<TaskRun>("GET", `/task_runs/${id}`)).body.state_type;

    it("cancels a CANCELLING run at once when it has no infrastructure", async () => {
      const id = await flowRun({});
      // Only a forced proposal leaves a run without infrastructure CANCELLING (the rules cancel it directly).
      await server.call("POST", `/flow_runs/${id}/set_state`, { state: { type: "CANCELLING" }, force: true });
      expect(await flowState(id)).toBe("CANCELLING");
      await cleanupAt(0).runOnce();
      expect(await flowState(id)).toBe("CANCELLED");
    });

    it("cancels a run whose infrastructure does not answer in time, then its task runs and subflows, level by level", async () => {
      const parent = await flowRun({ pid: "1234" });
      const running = await taskRun(parent, "RUNNING");
      const pending = await taskRun(parent, "PENDING");
      const done = await taskRun(parent, "COMPLETED");
      const standInWithInfra = await taskRun(parent, "RUNNING");
      const childWithInfra = await flowRun({ pid: "5678", parentTaskRunId: standInWithInfra });
      const standIn = await taskRun(parent, "RUNNING");
      const child = await flowRun({ parentTaskRunId: standIn });
      const childTask = await taskRun(child, "RUNNING");
      const grandStandIn = await taskRun(child, "RUNNING");
      const grandchild = await flowRun({ parentTaskRunId: grandStandIn });
      const unrelated = await flowRun({});
      const unrelatedTask = await taskRun(unrelated, "RUNNING");

      const cancel = await server.call<{ status: string }>("POST", `/flow_runs/${parent}/set_state`, { state: { type: "CANCELLING" } });
      expect(cancel.body.status).toBe("ACCEPT");

      // Within the timeout the worker may still stop it: nothing changes.
      await cleanupAt(10).runOnce();
      expect(await flowState(parent)).toBe("CANCELLING");
      expect(await taskState(running)).toBe("RUNNING");

      await cleanupAt(120).runOnce();
      expect(await flowState(parent)).toBe("CANCELLED");
      for (const id of [running, pending, standInWithInfra, standIn]) expect(await taskState(id)).toBe("CANCELLED");
      expect(await taskState(done)).toBe("COMPLETED");
      // A subflow with infrastructure is asked to stop; one without is cancelled, and its task runs in the same pass.
      expect(await flowState(childWithInfra)).toBe("CANCELLING");
      expect(await flowState(child)).toBe("CANCELLED");
      expect(await taskState(childTask)).toBe("CANCELLED");
      expect(await taskState(grandStandIn)).toBe("CANCELLED");
      // One level per pass.
      expect(await flowState(grandchild)).toBe("RUNNING");

      await cleanupAt(130).runOnce();
      expect(await flowState(grandchild)).toBe("CANCELLED");
      expect(await flowState(childWithInfra)).toBe("CANCELLING");

      await cleanupAt(300).runOnce();
      expect(await flowState(childWithInfra)).toBe("CANCELLED");
      expect(await flowState(unrelated)).toBe("RUNNING");
      expect(await taskState(unrelatedTask)).toBe("RUNNING");

      const [message] = (await server.call<Array<{ message: string }>>("GET", `/task_run_states/?task_run_id=${running}`)).body.slice(-1);
      expect(message?.message).toBe("The parent flow run was cancelled.");
    });
  });
}
