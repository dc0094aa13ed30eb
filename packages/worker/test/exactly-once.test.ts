import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { DIALECTS, createRun, deploy, readRecorder, spawnWorker, startTestServer, type RunningWorker, type TestServer } from "./helpers.js";

/**
 * Real processes all the way: 4 `baton worker start` processes, and one `baton flow-run
 * execute` process per run, on a pool whose concurrency limit is 3. The flow is trivial and
 * plain JavaScript (no TypeScript loader to start), so 500 processes take a few minutes on
 * two cores; the TypeScript entrypoints are covered by worker.test.ts.
 */
const RUNS = 500;
const WORKERS = 4;
const POOL_LIMIT = 3;
const SLOT_HOLDING = ["PENDING", "RUNNING", "CANCELLING"];

for (const dialect of DIALECTS) {
  describe(`many workers on one pool (${dialect})`, () => {
    let t: TestServer | undefined;
    const workers: RunningWorker[] = [];

    afterEach(async () => {
      for (const w of workers.splice(0)) {
        if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
      }
      await t?.close();
    });

    it(`${WORKERS} workers, ${RUNS} runs, pool limit ${POOL_LIMIT}: each run executed exactly once, the limit never exceeded`, async () => {
      t = await startTestServer(dialect);
      const { client } = t;
      const recorder = join(t.dir, "executions.log");
      const deployment = await deploy(client, { pool: "busy", file: "quick.mjs", exportName: "quick", flowName: "quick", concurrencyLimit: POOL_LIMIT });
      const runIds: string[] = [];
      for (let i = 0; i < RUNS; i += 25) {
        const batch = await Promise.all(Array.from({ length: Math.min(25, RUNS - i) }, (_, j) => createRun(client, deployment.id, { label: `run-${i + j}` })));
        runIds.push(...batch.map((run) => run.id));
      }

      for (let i = 0; i < WORKERS; i++) workers.push(spawnWorker(t.apiUrl, "busy", ["--name", `worker-${i}`], { BATON_TEST_RECORDER: recorder }));

      // Sample the runs holding a slot as often as the server answers, until all are done.
      let maxHolding = 0;
      let samples = 0;
      const deadline = Date.now() + 540_000;
      for (;;) {
        const [holding, completed, failed] = await Promise.all([
          client.request<number>("POST", "/flow_runs/count", { flow_runs: { state: { type: { any_: SLOT_HOLDING } } } }),
          client.request<number>("POST", "/flow_runs/count", { flow_runs: { state: { type: { any_: ["COMPLETED"] } } } }),
          client.request<number>("POST", "/flow_runs/count", { flow_runs: { state: { type: { any_: ["FAILED", "CRASHED", "CANCELLED"] } } } }),
        ]);
        if (failed > 0) {
          const broken = await client.filterFlowRuns({ flow_runs: { state: { type: { any_: ["FAILED", "CRASHED", "CANCELLED"] } } }, limit: 5 });
          const logs = await client.filterLogs({ logs: { flow_run_id: { any_: broken.map((run) => run.id) } }, limit: 50 });
          const report = broken.map((run) => `${run.id} ${run.state_type}: ${run.state?.message ?? ""}`).join("\n");
          throw new Error(`${failed} run(s) did not complete:\n${report}\nTheir logs:\n${logs.map((l) => l.message).join("\n")}`);
        }
        samples++;
        maxHolding = Math.max(maxHolding, holding);
        expect(holding, `runs holding a slot of the pool (limit ${POOL_LIMIT})`).toBeLessThanOrEqual(POOL_LIMIT);
        if (completed === RUNS) break;
        if (Date.now() > deadline) {
          const stuck = await client.filterFlowRuns({ flow_runs: { state: { type: { not_any_: ["COMPLETED"] } } }, limit: 10 });
          const report = stuck.map((run) => `${run.id} ${run.state_type}/${run.state_name} pid=${run.infrastructure_pid} ${run.state?.message ?? ""}`).join("\n");
          throw new Error(`only ${completed} of ${RUNS} runs completed in time; not completed:\n${report}\n${workers.map((w) => w.output().slice(-3000)).join("\n---\n")}`);
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      expect(samples).toBeGreaterThan(50);
      // The pool was kept full: the limit was reached, and held.
      expect(maxHolding).toBe(POOL_LIMIT);

      // Exactly once: one execution of each run's body, and one RUNNING in each run's history.
      const starts = readRecorder(recorder).filter((r) => r.event === "start");
      const perRun = new Map<string, number>();
      for (const s of starts) perRun.set(s.runId, (perRun.get(s.runId) ?? 0) + 1);
      expect(perRun.size).toBe(RUNS);
      expect([...perRun.values()].every((n) => n === 1)).toBe(true);
      expect(new Set(perRun.keys())).toEqual(new Set(runIds));

      for (let i = 0; i < runIds.length; i += 25) {
        const histories = await Promise.all(runIds.slice(i, i + 25).map((id) => client.readFlowRunStates(id)));
        for (const history of histories) expect(history.filter((s) => s.type === "RUNNING")).toHaveLength(1);
      }

      // The flow bodies themselves never overlapped more than the limit allows.
      const events = readRecorder(recorder).sort((a, b) => a.at - b.at || (a.event === "end" ? -1 : 1));
      let inside = 0;
      let maxInside = 0;
      for (const e of events) {
        inside += e.event === "start" ? 1 : -1;
        maxInside = Math.max(maxInside, inside);
      }
      expect(maxInside).toBeLessThanOrEqual(POOL_LIMIT);

      const claimsPerWorker = workers.map((w) => (w.output().match(/Claimed flow run/g) ?? []).length);
      expect(claimsPerWorker.reduce((a, b) => a + b, 0)).toBe(RUNS);
    }, 600_000);
  });
}
