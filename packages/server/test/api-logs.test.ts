import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Log } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

const iso = (ms: number) => new Date(ms).toISOString();
const BASE = Date.UTC(2030, 5, 1, 12, 0, 0);

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let server: TestServer;
    let runA: string;
    let runB: string;
    let taskA: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      const flow = await server.call<{ id: string }>("POST", "/flows/", { name: "logs" });
      runA = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.body.id })).body.id;
      runB = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.body.id })).body.id;
      taskA = (await server.call<{ id: string }>("POST", "/task_runs/", { flow_run_id: runA, task_key: "t", dynamic_key: "0" })).body.id;
      // Written out of time order on purpose: the server must sort, not keep insertion order.
      const batch = [
        { name: "prefect.flow_runs", level: 20, message: "a-info-2", timestamp: iso(BASE + 2000), flow_run_id: runA },
        { name: "prefect.flow_runs", level: 10, message: "a-debug-0", timestamp: iso(BASE), flow_run_id: runA },
        { name: "prefect.task_runs", level: 40, message: "a-error-3", timestamp: iso(BASE + 3000), flow_run_id: runA, task_run_id: taskA },
        { name: "prefect.flow_runs", level: 30, message: "a-warning-1", timestamp: iso(BASE + 1000), flow_run_id: runA },
        { name: "prefect.flow_runs", level: 50, message: "b-critical-5", timestamp: iso(BASE + 5000), flow_run_id: runB },
        { name: "prefect.flow_runs", level: 20, message: "b-info-4", timestamp: iso(BASE + 4000), flow_run_id: runB },
      ];
      const { status } = await server.call("POST", "/logs/", batch);
      expect(status).toBe(201);
    });
    afterAll(() => server.close());

    async function messages(body: Record<string, unknown>): Promise<string[]> {
      const { status, body: logs } = await server.call<Log[]>("POST", "/logs/filter", body);
      expect(status).toBe(200);
      return logs.map((l) => l.message);
    }
    const ofRuns = (...ids: string[]) => ({ flow_run_id: { any_: ids } });

    it("POST /logs/ writes a batch (201) and an empty batch is fine", async () => {
      expect(await messages({ logs: ofRuns(runA, runB) })).toHaveLength(6);
      const empty = await server.call("POST", "/logs/", []);
      expect(empty.status).toBe(201);
    });

    it("keeps every field of a log", async () => {
      const { body } = await server.call<Log[]>("POST", "/logs/filter", { logs: { ...ofRuns(runA), task_run_id: { any_: [taskA] } } });
      expect(body).toHaveLength(1);
      const log = body[0]!;
      expect(log).toMatchObject({ name: "prefect.task_runs", level: 40, message: "a-error-3", timestamp: iso(BASE + 3000), flow_run_id: runA, task_run_id: taskA });
      expect(log.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Number.isNaN(Date.parse(log.created))).toBe(false);
      expect(typeof log.updated).toBe("string");
    });

    it("filters by flow_run_id", async () => {
      expect(await messages({ logs: ofRuns(runB) })).toEqual(["b-info-4", "b-critical-5"]);
      expect(await messages({ logs: ofRuns(crypto.randomUUID()) })).toEqual([]);
    });

    it("filters by level ge_ and le_", async () => {
      expect(await messages({ logs: { ...ofRuns(runA, runB), level: { ge_: 30 } } })).toEqual(["a-warning-1", "a-error-3", "b-critical-5"]);
      expect(await messages({ logs: { ...ofRuns(runA, runB), level: { ge_: 20, le_: 30 } } })).toEqual(["a-warning-1", "a-info-2", "b-info-4"]);
    });

    it("sorts TIMESTAMP_ASC by default, and TIMESTAMP_DESC", async () => {
      const asc = ["a-debug-0", "a-warning-1", "a-info-2", "a-error-3", "b-info-4", "b-critical-5"];
      expect(await messages({ logs: ofRuns(runA, runB) })).toEqual(asc);
      expect(await messages({ logs: ofRuns(runA, runB), sort: "TIMESTAMP_ASC" })).toEqual(asc);
      expect(await messages({ logs: ofRuns(runA, runB), sort: "TIMESTAMP_DESC" })).toEqual([...asc].reverse());
    });

    it("filters by timestamp, task run and text", async () => {
      expect(await messages({ logs: { ...ofRuns(runA, runB), timestamp: { after_: iso(BASE + 1000), before_: iso(BASE + 3000) } } })).toEqual([
        "a-warning-1",
        "a-info-2",
        "a-error-3",
      ]);
      expect(await messages({ logs: { ...ofRuns(runA), task_run_id: { is_null_: true } } })).toEqual(["a-debug-0", "a-warning-1", "a-info-2"]);
      expect(await messages({ logs: { ...ofRuns(runA, runB), text: { query: "CRITICAL" } } })).toEqual(["b-critical-5"]);
    });

    it("applies limit and offset", async () => {
      expect(await messages({ logs: ofRuns(runA, runB), limit: 2, offset: 1 })).toEqual(["a-warning-1", "a-info-2"]);
      expect(await messages({ logs: ofRuns(runA, runB), sort: "TIMESTAMP_DESC", limit: 1 })).toEqual(["b-critical-5"]);
    });

    it("keeps the order of logs within one batch that share a timestamp", async () => {
      const flow = await server.call<{ id: string }>("POST", "/flows/", { name: "logs-same-time" });
      const run = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.body.id })).body.id;
      const at = iso(BASE + 10_000);
      const batch = Array.from({ length: 50 }, (_, i) => ({ name: "l", level: 20, message: `m${i}`, timestamp: at, flow_run_id: run }));
      expect((await server.call("POST", "/logs/", batch)).status).toBe(201);
      expect(await messages({ logs: ofRuns(run) })).toEqual(batch.map((l) => l.message));
    });

    it("writes a large batch in one request", async () => {
      const flow = await server.call<{ id: string }>("POST", "/flows/", { name: "logs-large" });
      const run = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.body.id })).body.id;
      const batch = Array.from({ length: 1200 }, (_, i) => ({ name: "l", level: 20, message: `m${i}`, timestamp: iso(BASE + i), flow_run_id: run }));
      expect((await server.call("POST", "/logs/", batch)).status).toBe(201);
      expect(await messages({ logs: ofRuns(run), limit: 200, offset: 1000 })).toEqual(batch.slice(1000, 1200).map((l) => l.message));
    });
  });
}
