import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, State } from "@baton/core";
import { createServices, describeServices, loadConfig } from "@baton/server";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

describe("service settings", () => {
  it("turns each service on or off and sets its loop from the environment", () => {
    const config = loadConfig({ BATON_SERVER_SERVICES_LATE_RUNS_ENABLED: "false", BATON_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS: "7" });
    expect(config.services.late_runs.enabled).toBe(false);
    expect(config.services.scheduler).toEqual({ enabled: true, loopSeconds: 7 });
    expect(describeServices(config).find((s) => s.name === "late_runs")?.enabled).toBe(false);
  });

  it("names the variable when a value is bad", () => {
    expect(() => loadConfig({ BATON_SERVER_SERVICES_ZOMBIES_ENABLED: "maybe" })).toThrow(/BATON_SERVER_SERVICES_ZOMBIES_ENABLED/);
    expect(() => loadConfig({ BATON_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS: "-1" })).toThrow(/BATON_SERVER_SERVICES_LATE_RUNS_LOOP_SECONDS/);
  });
});

for (const dialect of DIALECTS) {
  describe(`late runs service (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "late" })).body.id;
    });
    afterAll(() => server.close());

    it("marks runs past due by the threshold as Late, and leaves the rest", async () => {
      const at = (offsetSeconds: number) => new Date(Date.now() + offsetSeconds * 1000).toISOString();
      const create = async (scheduled_time: string) =>
        (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, state: { type: "SCHEDULED", state_details: { scheduled_time } } })).body;
      const overdue = await create(at(-60));
      const recent = await create(at(-5));
      const future = await create(at(600));
      const claimed = await create(at(-60));
      await server.call("POST", `/flow_runs/${claimed.id}/set_state`, { state: { type: "PENDING" } });

      const config = { ...server.config, lateRunsAfterSeconds: 15 };
      const [service] = createServices({ db: server.db, config, events: server.events, clock: { now: () => new Date() }, logger: console }, ["late_runs"]);
      await service!.runOnce();

      const read = async (id: string) => (await server.call<FlowRun>("GET", `/flow_runs/${id}`)).body;
      const marked = await read(overdue.id);
      expect(marked.state_name).toBe("Late");
      expect(marked.state?.state_details.scheduled_time).toBe(overdue.next_scheduled_start_time);
      expect((await read(recent.id)).state_name).toBe("Scheduled");
      expect((await read(future.id)).state_name).toBe("Scheduled");
      expect((await read(claimed.id)).state_type).toBe("PENDING");

      await service!.runOnce();
      const states = (await server.call<State[]>("GET", `/flow_run_states/?flow_run_id=${overdue.id}`)).body;
      expect(states.map((s) => s.name)).toEqual(["Scheduled", "Late"]);
    });

    it("refuses Late for a run that is no longer Scheduled", async () => {
      const run = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId })).body;
      const result = await server.call<{ status: string }>("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "SCHEDULED", name: "Late" } });
      expect(result.body.status).toBe("REJECT");
    });
  });
}
