import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, State } from "@baton/core";
import { createServices, type LoopService } from "@baton/server";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

for (const dialect of DIALECTS) {
  describe(`zombies service (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;
    let deploymentId: string;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "zombie-flow" })).body.id;
      deploymentId = (await server.call<{ id: string }>("POST", "/deployments/", { flow_id: flowId, name: "zombie-deployment" })).body.id;
    });
    afterAll(() => server.close());

    /** The zombies service with a 90 s timeout, its clock `offsetSeconds` ahead of the real one. */
    const zombiesAt = (offsetSeconds: number): LoopService => {
      const config = { ...server.config, zombieHeartbeatTimeoutSeconds: 90 };
      const clock = { now: () => new Date(Date.now() + offsetSeconds * 1000) };
      const [service] = createServices({ db: server.db, config, events: server.events, clock, logger: quiet }, ["zombies"]);
      return service!;
    };
    const runningRun = async (fields: { deployment_id?: string; retries?: number }) => {
      const run = (
        await server.call<FlowRun>("POST", "/flow_runs/", {
          flow_id: flowId,
          deployment_id: fields.deployment_id,
          empirical_policy: { retries: fields.retries ?? 0 },
          state: { type: "PENDING" },
        })
      ).body;
      const result = await server.call<{ status: string }>("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING" } });
      expect(result.body.status).toBe("ACCEPT");
      return run.id;
    };
    const heartbeat = async (runId: string, offsetSeconds: number) => {
      const occurred = new Date(Date.now() + offsetSeconds * 1000).toISOString();
      const response = await server.call("POST", "/events", [
        { id: randomUUID(), occurred, event: "prefect.flow-run.heartbeat", resource: { "prefect.resource.id": `prefect.flow-run.${runId}` } },
      ]);
      expect(response.status).toBe(204);
    };
    const read = async (id: string) => (await server.call<FlowRun>("GET", `/flow_runs/${id}`)).body;
    const history = async (id: string) => (await server.call<State[]>("GET", `/flow_run_states/?flow_run_id=${id}`)).body;

    it("crashes runs silent past the timeout, and reschedules those with retries left and a deployment", async () => {
      const retriable = await runningRun({ deployment_id: deploymentId, retries: 1 });
      const noDeployment = await runningRun({ retries: 1 });
      const noRetries = await runningRun({ deployment_id: deploymentId, retries: 0 });
      const neverBeat = await runningRun({ deployment_id: deploymentId, retries: 1 });
      for (const id of [retriable, noDeployment, noRetries]) await heartbeat(id, 0);

      await zombiesAt(60).runOnce();
      for (const id of [retriable, noDeployment, noRetries, neverBeat]) expect((await read(id)).state_type).toBe("RUNNING");

      await zombiesAt(120).runOnce();
      const retried = await read(retriable);
      expect(retried.state_type).toBe("SCHEDULED");
      expect(retried.state_name).toBe("AwaitingRetry");
      const states = await history(retriable);
      expect(states.map((s) => s.type)).toEqual(["PENDING", "RUNNING", "CRASHED", "SCHEDULED"]);
      expect(states[2]?.message).toMatch(/no heartbeat for 12\d s \(timeout 90 s\)/);
      // Due at once (no retry delay), by the service's clock.
      expect(Date.parse(retried.next_scheduled_start_time!)).toBeGreaterThan(Date.now() + 100_000);

      expect((await read(noDeployment)).state_type).toBe("CRASHED");
      expect((await read(noRetries)).state_type).toBe("CRASHED");
      // A run that never sent a heartbeat is not judged (see the service's comment).
      expect((await read(neverBeat)).state_type).toBe("RUNNING");
    });

    it("lets a retried run use its retries only once", async () => {
      const id = await runningRun({ deployment_id: deploymentId, retries: 1 });
      await heartbeat(id, 0);
      await zombiesAt(120).runOnce();
      expect((await read(id)).state_name).toBe("AwaitingRetry");
      // The second attempt starts, beats once, and goes silent as well.
      const result = await server.call<{ status: string }>("POST", `/flow_runs/${id}/set_state`, { state: { type: "RUNNING" }, force: true });
      expect(result.body.status).toBe("ACCEPT");
      expect((await read(id)).run_count).toBe(2);
      await heartbeat(id, 130);
      await zombiesAt(300).runOnce();
      expect((await read(id)).state_type).toBe("CRASHED");
    });

    it("keeps a run alive while heartbeats arrive, and never moves the heartbeat back", async () => {
      const id = await runningRun({});
      await heartbeat(id, 0);
      await heartbeat(id, 100);
      // An older heartbeat arriving late must not make the run look silent.
      await heartbeat(id, 10);
      const row = await server.db.kysely.selectFrom("flow_run").select("last_heartbeat").where("id", "=", id).executeTakeFirstOrThrow();
      expect(Date.parse(row.last_heartbeat!)).toBeGreaterThan(Date.now() + 90_000);

      await zombiesAt(120).runOnce();
      expect((await read(id)).state_type).toBe("RUNNING");
      await zombiesAt(200).runOnce();
      expect((await read(id)).state_type).toBe("CRASHED");
    });

    it("gives a run that enters RUNNING again a full timeout, whatever its earlier heartbeats said", async () => {
      const id = await runningRun({ deployment_id: deploymentId, retries: 1 });
      // Its last heartbeat is from an earlier attempt, long ago; it has just entered RUNNING.
      await heartbeat(id, -300);
      await zombiesAt(60).runOnce();
      expect((await read(id)).state_type).toBe("RUNNING");
      await zombiesAt(100).runOnce();
      expect((await read(id)).state_type).toBe("SCHEDULED");
    });

    it("leaves finished runs alone even if their last heartbeat is old", async () => {
      const id = await runningRun({});
      await heartbeat(id, 0);
      await server.call("POST", `/flow_runs/${id}/set_state`, { state: { type: "COMPLETED" } });
      await zombiesAt(600).runOnce();
      expect((await read(id)).state_type).toBe("COMPLETED");
    });
  });
}
