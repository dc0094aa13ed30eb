import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { configure, currentSettings, flow, SettingsError, type BatonClient } from "@baton/sdk";
import { BatonClient as SourceClient } from "../src/client.js";
import { configure as configureSource } from "../src/settings.js";
import { beatWhileRunning } from "../src/engine/heartbeat.js";
import { sleep, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});
afterEach(() => configure({ flowRunHeartbeatSeconds: null }));

interface EventPage {
  total: number;
  events: Array<{ occurred: string; related: Array<Record<string, string>> }>;
}

async function heartbeatsOf(client: BatonClient, flowRunId: string): Promise<EventPage> {
  return client.request<EventPage>("POST", "/events/filter", {
    filter: { event: { name: ["prefect.flow-run.heartbeat"] }, resource: { id: [`prefect.flow-run.${flowRunId}`] }, order: "ASC" },
  });
}

describe("flow run heartbeats", () => {
  it("are sent while a flow run is RUNNING, for it and its subflows, and stop when it ends", async () => {
    configure({ flowRunHeartbeatSeconds: 0.1 });
    let childId = "";
    const child = flow({ name: "heartbeat-child" }, async () => {
      await sleep(350);
    });
    const parent = flow({ name: "heartbeat-parent" }, async () => {
      const outcome = await child.run();
      childId = outcome.flowRun.id;
      await sleep(200);
    });
    const outcome = await parent.run();
    expect(outcome.ok).toBe(true);
    // A heartbeat already on its way when the run ended may still land.
    await sleep(200);

    const beats = await heartbeatsOf(t.client, outcome.flowRun.id);
    // One at once, then one every 0.1 s over at least 0.55 s (fewer if the machine is slow).
    expect(beats.total).toBeGreaterThanOrEqual(3);
    expect(beats.events[0]?.related[0]).toEqual({ "prefect.resource.id": `prefect.flow.${outcome.flowRun.flow_id}`, "prefect.resource.role": "flow", "prefect.resource.name": "heartbeat-parent" });
    expect((await heartbeatsOf(t.client, childId)).total).toBeGreaterThanOrEqual(2);

    const row = await t.server.db.kysely.selectFrom("flow_run").select("last_heartbeat").where("id", "=", outcome.flowRun.id).executeTakeFirstOrThrow();
    expect(row.last_heartbeat).toBe(beats.events.at(-1)?.occurred);

    await sleep(400);
    expect((await heartbeatsOf(t.client, outcome.flowRun.id)).total).toBe(beats.total);
  });

  it("are not sent when the setting is 0", async () => {
    configure({ flowRunHeartbeatSeconds: 0 });
    const quiet = flow({ name: "heartbeat-off" }, async () => {
      await sleep(150);
    });
    const outcome = await quiet.run();
    expect(outcome.ok).toBe(true);
    expect((await heartbeatsOf(t.client, outcome.flowRun.id)).total).toBe(0);
  });

  it("a run that starts sends its own first heartbeat, not one for every run already beating", async () => {
    // A long interval: every heartbeat in this test is a first one.
    configureSource({ flowRunHeartbeatSeconds: 60 });
    const client = new SourceClient({ apiUrl: t.server.apiUrl });
    const run = () => ({ id: crypto.randomUUID(), name: "r", flowId: crypto.randomUUID(), flowName: "f", deploymentId: null });
    const [first, second, third] = [run(), run(), run()];
    const stops = [beatWhileRunning(client, first, () => undefined)];
    await sleep(150);
    stops.push(beatWhileRunning(client, second, () => undefined));
    await sleep(150);
    stops.push(beatWhileRunning(client, third, () => undefined));
    await sleep(150);
    for (const stop of stops) stop();
    configureSource({ flowRunHeartbeatSeconds: null });
    expect((await heartbeatsOf(t.client, first.id)).total).toBe(1);
    expect((await heartbeatsOf(t.client, second.id)).total).toBe(1);
    expect((await heartbeatsOf(t.client, third.id)).total).toBe(1);
  });

  it("that cannot be sent are reported once per run, however many fail", async () => {
    // The sender is imported from source here, so it reads the source copy of the settings.
    configureSource({ flowRunHeartbeatSeconds: 0.05 });
    // Nothing listens on port 9 of this host.
    const unreachable = new SourceClient({ apiUrl: "http://127.0.0.1:9/api", timeoutMs: 1000 });
    const failures: unknown[] = [];
    const stop = beatWhileRunning(unreachable, { id: crypto.randomUUID(), name: "r", flowId: crypto.randomUUID(), flowName: "f", deploymentId: null }, (error) => failures.push(error));
    await sleep(400);
    stop();
    configureSource({ flowRunHeartbeatSeconds: null });
    expect(failures).toHaveLength(1);
    expect(String(failures[0])).toContain("127.0.0.1:9");
  });
});

describe("heartbeat setting", () => {
  it("defaults to 30 s, reads BATON_FLOW_RUN_HEARTBEAT_SECONDS, and names the variable when it is bad", () => {
    expect(currentSettings({}).flowRunHeartbeatSeconds).toBe(30);
    expect(currentSettings({ BATON_FLOW_RUN_HEARTBEAT_SECONDS: "5" }).flowRunHeartbeatSeconds).toBe(5);
    expect(currentSettings({ BATON_FLOW_RUN_HEARTBEAT_SECONDS: "0" }).flowRunHeartbeatSeconds).toBe(0);
    expect(() => currentSettings({ BATON_FLOW_RUN_HEARTBEAT_SECONDS: "-1" })).toThrow(/BATON_FLOW_RUN_HEARTBEAT_SECONDS/);
    expect(() => currentSettings({ BATON_FLOW_RUN_HEARTBEAT_SECONDS: "often" })).toThrow(/BATON_FLOW_RUN_HEARTBEAT_SECONDS/);
    expect(() => configure({ flowRunHeartbeatSeconds: -1 })).toThrow(SettingsError);
    configure({ flowRunHeartbeatSeconds: 2 });
    expect(currentSettings({ BATON_FLOW_RUN_HEARTBEAT_SECONDS: "5" }).flowRunHeartbeatSeconds).toBe(2);
  });
});
