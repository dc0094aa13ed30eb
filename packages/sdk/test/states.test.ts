import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enterRunning, proposeFinal, proposeState } from "../src/engine/states.js";
import { BatonClient } from "../src/client.js";
import { startTestServer, type TestServer } from "./helpers.js";

/* The state-proposal loop against a real server's orchestration answers. */

let t: TestServer;
let client: BatonClient;
beforeAll(async () => {
  t = await startTestServer();
  client = new BatonClient({ apiUrl: t.server.apiUrl });
});
afterAll(async () => {
  await t.close();
});

async function scheduledFlowRun(secondsFromNow: number) {
  const flow = await client.createFlow({ name: "states-test" });
  return client.createFlowRun({
    flow_id: flow.id,
    state: { type: "SCHEDULED", name: "Scheduled", state_details: { scheduled_time: new Date(Date.now() + secondsFromNow * 1000).toISOString() } },
  });
}

describe("state proposals", () => {
  it("on WAIT (RUNNING before the scheduled time) waits and proposes again until accepted", async () => {
    const run = await scheduledFlowRun(1.2);
    const first = await proposeState({ kind: "flow", id: run.id, client }, { type: "RUNNING", name: "Running" });
    expect(first.status).toBe("WAIT");

    const started = Date.now();
    const seen: string[] = [];
    const entered = await enterRunning({ kind: "flow", id: run.id, client }, { name: "Running", onState: (s) => seen.push(s.type) });
    expect(entered.outcome).toBe("run");
    expect(entered.state.type).toBe("RUNNING");
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    expect((await client.readFlowRun(run.id)).state_type).toBe("RUNNING");
  });

  it("every proposal carries a fresh transition id; the server refuses a replay of one", async () => {
    const run = await scheduledFlowRun(0);
    const target = { kind: "flow" as const, id: run.id, client };
    const running = await proposeState(target, { type: "RUNNING", name: "Running" });
    expect(running.status).toBe("ACCEPT");
    const transitionId = running.state?.state_details.transition_id;
    expect(transitionId).toBeTruthy();
    const replay = await client.setFlowRunState(run.id, { type: "RUNNING", name: "Running", state_details: { transition_id: transitionId } });
    expect(replay.status).toBe("REJECT");
    const done = await proposeFinal(target, { type: "COMPLETED", name: "Completed", data: { type: "json", value: 1 } });
    expect(done).toMatchObject({ outcome: "final", state: { type: "COMPLETED" } });
    expect(done.state.state_details.transition_id).not.toBe(transitionId);
  });

  it("proposing RUNNING for a completed run ends with its COMPLETED state instead of running", async () => {
    const run = await scheduledFlowRun(0);
    const target = { kind: "flow" as const, id: run.id, client };
    await enterRunning(target, { name: "Running" });
    await proposeFinal(target, { type: "COMPLETED", name: "Completed", data: { type: "json", value: "kept" } });
    const again = await enterRunning(target, { name: "Running" });
    expect(again.outcome).toBe("done");
    expect(again.state.data).toEqual({ type: "json", value: "kept" });
  });
});
