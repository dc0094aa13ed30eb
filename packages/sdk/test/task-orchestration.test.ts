import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventPage } from "@baton/core";
import { startServer } from "@baton/server";
import { BatonClient, configure, flow, task } from "@baton/sdk";
import { sleep, startTestServer, taskRunsOf, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  configure({ clientSideTaskOrchestration: null });
  await t.close();
});

/** The prefect.task-run.* events the server holds for these task runs. */
async function taskRunEvents(taskRunIds: readonly string[]): Promise<EventPage["events"]> {
  const page = await t.client.request<EventPage>("POST", "/events/filter", {
    filter: { occurred: { since: "2000-01-01T00:00:00Z" }, resource: { id: taskRunIds.map((id) => `prefect.task-run.${id}`) } },
    limit: 50,
  });
  return page.events;
}

describe("client-side task orchestration", () => {
  it("a mapped flow's task runs are all on the server, with their history, as soon as the flow returns", async () => {
    const double = task({ name: "double" }, (x: number) => x * 2);
    const mapper = flow(async function mapper(n: number) {
      const futures = double.map(Array.from({ length: n }, (_, i) => i));
      return Promise.all(futures.map((f) => f.result()));
    });
    const outcome = await mapper.run(60);
    expect(outcome.ok && outcome.result[59]).toBe(118);
    // No waiting: the flow flushed its task runs' states before its own final state.
    const runs = await taskRunsOf(t.client, outcome.flowRun.id);
    expect(runs).toHaveLength(60);
    expect(runs.every((r) => r.state_type === "COMPLETED" && r.run_count === 1 && r.start_time !== null && r.end_time !== null)).toBe(true);
    expect(runs[7]).toMatchObject({ name: "double-7", task_key: runs[0]!.task_key, dynamic_key: "7", flow_run_id: outcome.flowRun.id });
    expect(runs[7]?.state?.data).toEqual({ type: "json", value: 14 });
    const history = await t.client.readTaskRunStates(runs[7]!.id);
    expect(history.map((s) => s.name)).toEqual(["Pending", "Running", "Completed"]);
    // They were reported as events, whose ids are the states' ids.
    const events = await taskRunEvents([runs[7]!.id]);
    expect(events.map((e) => e.event).sort()).toEqual(["prefect.task-run.Completed", "prefect.task-run.Pending", "prefect.task-run.Running"]);
    expect(new Set(events.map((e) => e.id))).toEqual(new Set(history.map((s) => s.id)));
    expect(events.find((e) => e.event === "prefect.task-run.Completed")?.related).toContainEqual(expect.objectContaining({ "prefect.resource.id": `prefect.flow-run.${outcome.flowRun.id}` }));
  });

  it("map() returns before any mapped function runs; runs start in call order; a run fed by a future is PENDING while it waits", async () => {
    const order: string[] = [];
    const record = task({ name: "record" }, (x: number) => {
      order.push(`ran ${x}`);
      return x;
    });
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const slow = task({ name: "slow-upstream" }, async () => {
      await gate;
      return 5;
    });
    const plus = task({ name: "plus" }, (x: number) => x + 1);
    let whileWaiting: string | null | undefined;
    const ordered = flow(async function ordered() {
      const futures = record.map([0, 1, 2, 3, 4]);
      order.push("map returned");
      const upstream = slow.submit();
      const downstream = plus.submit(upstream);
      await Promise.all(futures.map((f) => f.result()));
      // Its PENDING was reported (batches leave within 50 ms); the server has it once recorded.
      for (let i = 0; i < 40 && whileWaiting === undefined; i++) {
        await sleep(50);
        whileWaiting = await t.client.readTaskRun(downstream.taskRunId).then((r) => r.state_type, () => undefined);
      }
      release();
      return downstream.result();
    });
    const outcome = await ordered.run();
    expect(outcome.ok && outcome.result).toBe(6);
    expect(order).toEqual(["map returned", "ran 0", "ran 1", "ran 2", "ran 3", "ran 4"]);
    expect(whileWaiting).toBe("PENDING");
    const runs = await taskRunsOf(t.client, outcome.flowRun.id);
    expect(runs.filter((r) => r.name.startsWith("record-")).map((r) => r.dynamic_key).sort()).toEqual(["0", "1", "2", "3", "4"]);
    for (const run of runs) expect((await t.client.readTaskRunStates(run.id)).map((s) => s.name)).toEqual(["Pending", "Running", "Completed"]);
  });

  it("a failed task run is reported FAILED and fails the flow", async () => {
    const boom = task({ name: "boom" }, () => {
      throw new Error("kaput");
    });
    const failing = flow(async function failing() {
      await boom();
    });
    const outcome = await failing.run();
    expect(outcome.ok).toBe(false);
    const [run] = await taskRunsOf(t.client, outcome.flowRun.id);
    expect(run?.state_type).toBe("FAILED");
    expect(run?.state?.message).toContain("kaput");
  });

  it("tasks with tags keep the server path, so a tag concurrency limit still holds", async () => {
    // A server of its own that asks waiting task runs to retry after 1 s rather than 30 s.
    const dir = mkdtempSync(join(tmpdir(), "baton-sdk-test-"));
    const server = await startServer({ config: { port: 0, databaseUrl: `sqlite:${join(dir, "baton.db")}`, logLevel: "silent", tagConcurrencySlotWaitSeconds: 1 } });
    configure({ apiUrl: server.apiUrl });
    const client = new BatonClient({ apiUrl: server.apiUrl });
    try {
      await client.request("POST", "/concurrency_limits/", { tag: "one-at-a-time", concurrency_limit: 1 });
      let inside = 0;
      let most = 0;
      const guarded = task({ name: "guarded", tags: ["one-at-a-time"] }, async (_n: number) => {
        inside += 1;
        most = Math.max(most, inside);
        await sleep(50);
        inside -= 1;
      });
      const parallel = flow(async function parallel() {
        await Promise.all(guarded.map([1, 2]).map((f) => f.result()));
      });
      const outcome = await parallel.run();
      expect(outcome.ok).toBe(true);
      expect(most).toBe(1);
      const runs = await taskRunsOf(client, outcome.flowRun.id);
      expect(runs.map((r) => r.state_type)).toEqual(["COMPLETED", "COMPLETED"]);
      // Orchestrated by the server (set_state), not reported as events by the SDK (which carry
      // the task run in their payload); the server emits its own state-change events.
      const page = await client.request<EventPage>("POST", "/events/filter", { filter: { occurred: { since: "2000-01-01T00:00:00Z" }, event: { prefix: ["prefect.task-run."] } } });
      expect(page.events.filter((e) => e.payload.task_run !== undefined)).toEqual([]);
    } finally {
      configure({ apiUrl: t.server.apiUrl });
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("clientSideTaskOrchestration: false sends every state through set_state", async () => {
    configure({ clientSideTaskOrchestration: false });
    try {
      const inc = task({ name: "inc" }, (x: number) => x + 1);
      const roundTrips = flow(async function roundTrips() {
        return inc(1);
      });
      const outcome = await roundTrips.run();
      expect(outcome.ok && outcome.result).toBe(2);
      const runs = await taskRunsOf(t.client, outcome.flowRun.id);
      expect(runs[0]?.state_type).toBe("COMPLETED");
      // No events reported by the SDK (with the task run in the payload); the server's own state-change events only.
      expect((await taskRunEvents(runs.map((r) => r.id))).filter((e) => e.payload.task_run !== undefined)).toEqual([]);
    } finally {
      configure({ clientSideTaskOrchestration: null });
    }
  });
});
