import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deployment, FlowRun, OrchestrationResult } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/**
 * A deployment's concurrency_limit, judged when a run is claimed (SCHEDULED -> PENDING):
 * ENQUEUE sends the claim back to Scheduled "AwaitingConcurrencySlot" a little later,
 * CANCEL_NEW cancels the run.
 */
for (const dialect of DIALECTS) {
  describe(`deployment concurrency (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;
    let counter = 0;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "limited" })).body.id;
    });
    afterAll(() => server.close());

    async function deployment(body: Record<string, unknown>): Promise<Deployment> {
      const { status, body: dep } = await server.call<Deployment>("POST", "/deployments/", { flow_id: flowId, name: `limited-${counter++}`, ...body });
      expect(status).toBe(201);
      return dep;
    }
    async function newRun(depId: string): Promise<FlowRun> {
      return (await server.call<FlowRun>("POST", `/deployments/${depId}/create_flow_run`, {})).body;
    }
    async function propose(runId: string, type: string): Promise<OrchestrationResult> {
      return (await server.call<OrchestrationResult>("POST", `/flow_runs/${runId}/set_state`, { state: { type } })).body;
    }
    const read = async (runId: string) => (await server.call<FlowRun>("GET", `/flow_runs/${runId}`)).body;

    it("ENQUEUE (the default): a claim over the limit waits as Scheduled AwaitingConcurrencySlot", async () => {
      const dep = await deployment({ concurrency_limit: 1 });
      const [first, second, third] = [await newRun(dep.id), await newRun(dep.id), await newRun(dep.id)];
      expect((await propose(first!.id, "PENDING")).status).toBe("ACCEPT");
      const before = Date.now();
      const refused = await propose(second!.id, "PENDING");
      expect(refused.status).toBe("REJECT");
      expect(refused.state).toMatchObject({ type: "SCHEDULED", name: "AwaitingConcurrencySlot" });
      expect(JSON.stringify(refused.details)).toContain("concurrency limit");
      const waiting = await read(second!.id);
      expect(waiting).toMatchObject({ state_type: "SCHEDULED", state_name: "AwaitingConcurrencySlot" });
      // Offered again about 30 seconds later, so pollers do not take it at once.
      const retryAt = Date.parse(waiting.next_scheduled_start_time!);
      expect(retryAt).toBeGreaterThanOrEqual(before + 25_000);
      expect(retryAt).toBeLessThanOrEqual(Date.now() + 35_000);
      // Running and cancelling runs hold the slot too; a finished one frees it.
      expect((await propose(first!.id, "RUNNING")).status).toBe("ACCEPT");
      expect((await propose(third!.id, "PENDING")).status).toBe("REJECT");
      expect((await propose(first!.id, "COMPLETED")).status).toBe("ACCEPT");
      expect((await propose(second!.id, "PENDING")).status).toBe("ACCEPT");
    });

    it("CANCEL_NEW: a claim over the limit cancels the run", async () => {
      const dep = await deployment({ concurrency_limit: 1, concurrency_options: { collision_strategy: "CANCEL_NEW" } });
      const first = await newRun(dep.id);
      const second = await newRun(dep.id);
      expect((await propose(first.id, "PENDING")).status).toBe("ACCEPT");
      const refused = await propose(second.id, "PENDING");
      expect(refused.status).toBe("REJECT");
      expect(refused.state?.type).toBe("CANCELLED");
      expect((await read(second.id)).state_type).toBe("CANCELLED");
    });

    it("holds the limit when many claims arrive at once", async () => {
      const dep = await deployment({ concurrency_limit: 2 });
      const runs = await Promise.all(Array.from({ length: 10 }, () => newRun(dep.id)));
      const results = await Promise.all(runs.map((r) => propose(r.id, "PENDING")));
      expect(results.filter((r) => r.status === "ACCEPT")).toHaveLength(2);
      expect(results.filter((r) => r.status === "REJECT" && r.state?.name === "AwaitingConcurrencySlot")).toHaveLength(8);
      const active = await server.call<number>("POST", "/flow_runs/count", { deployments: { id: { any_: [dep.id] } }, flow_runs: { state: { type: { any_: ["PENDING"] } } } });
      expect(active.body).toBe(2);
    });

    it("a deployment without a limit, or a run without a deployment, is not held back", async () => {
      const dep = await deployment({});
      const runs = await Promise.all(Array.from({ length: 5 }, () => newRun(dep.id)));
      const results = await Promise.all(runs.map((r) => propose(r.id, "PENDING")));
      expect(results.map((r) => r.status)).toEqual(Array(5).fill("ACCEPT"));
      const limited = await deployment({ concurrency_limit: 1 });
      expect((await propose((await newRun(limited.id)).id, "PENDING")).status).toBe("ACCEPT");
      const loose = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, state: { type: "SCHEDULED" } })).body;
      expect((await propose(loose.id, "PENDING")).status).toBe("ACCEPT");
    });

    it("raising the limit lets waiting runs through; runs waiting for a slot survive a pause", async () => {
      const dep = await deployment({ concurrency_limit: 1 });
      const [first, second] = [await newRun(dep.id), await newRun(dep.id)];
      expect((await propose(first!.id, "PENDING")).status).toBe("ACCEPT");
      expect((await propose(second!.id, "PENDING")).status).toBe("REJECT");
      expect((await server.call("POST", `/deployments/${dep.id}/pause_deployment`)).status).toBe(200);
      expect((await read(second!.id)).state_name).toBe("AwaitingConcurrencySlot");
      expect((await server.call("PATCH", `/deployments/${dep.id}`, { concurrency_limit: 2 })).status).toBe(204);
      expect((await propose(second!.id, "PENDING")).status).toBe("ACCEPT");
    });
  });
}
