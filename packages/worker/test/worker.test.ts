import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { processBaseJobTemplate, type Deployment } from "@baton/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  DIALECTS,
  createRun,
  deploy,
  groupAlive,
  pidOf,
  readRecorder,
  spawnWorker,
  startTestServer,
  stateHistory,
  waitFor,
  waitForState,
  type RunningWorker,
  type TestServer,
} from "./helpers.js";

for (const dialect of DIALECTS) {
  describe(`process worker (${dialect})`, () => {
    let t: TestServer;
    let recorder: string;
    const workers: RunningWorker[] = [];
    const orphans: number[] = [];

    const startWorker = (pool: string, args: string[] = []) => {
      const worker = spawnWorker(t.apiUrl, pool, args, { BATON_TEST_RECORDER: recorder });
      workers.push(worker);
      return worker;
    };
    const outputs = () => workers.map((w, i) => `--- worker ${i} ---\n${w.output()}`).join("\n");

    beforeEach(async () => {
      t = await startTestServer(dialect);
      recorder = join(t.dir, "executions.log");
    });
    afterEach(async () => {
      for (const w of workers.splice(0)) {
        if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
      }
      for (const pid of orphans.splice(0)) {
        if (groupAlive(pid)) process.kill(-pid, "SIGKILL");
      }
      await t.close();
    });

    it("runs a deployment's flow run in a process of its own: COMPLETED, its output in the run's logs, infrastructure_pid recorded", async () => {
      const deployment = await deploy(t.client, { pool: "happy", exportName: "chatty", flowName: "chatty", parameters: { word: "hello" } });
      const run = await createRun(t.client, deployment.id, { word: "bonjour" });
      startWorker("happy");

      const done = await waitForState(t.client, run.id, ["COMPLETED", "FAILED", "CRASHED"], 30_000, outputs);
      expect(done.state_type, outputs()).toBe("COMPLETED");
      expect(done.state?.data).toEqual({ type: "json", value: "bonjour" });
      expect(done.infrastructure_pid).toMatch(/^.+:\d+$/);
      expect(done.work_pool_name).toBe("happy");

      const logs = await waitFor(async () => {
        const found = await t.client.filterLogs({ logs: { flow_run_id: { any_: [run.id] } }, sort: "TIMESTAMP_ASC" });
        return found.some((l) => l.message === "stderr says bonjour") && found.some((l) => l.message.startsWith("Finished in state")) ? found : undefined;
      }, "the run's logs");
      expect(logs.find((l) => l.message === "stdout says bonjour")).toMatchObject({ level: 20, name: "baton.flow_runs.stdout" });
      expect(logs.find((l) => l.message === "stderr says bonjour")).toMatchObject({ level: 30, name: "baton.flow_runs.stderr" });
      // The SDK's own records arrive once: the process does not echo them for the worker to send again.
      expect(logs.filter((l) => l.message.startsWith("Beginning flow run"))).toHaveLength(1);

      const history = await stateHistory(t.client, run.id);
      expect(history.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]);
      expect(readRecorder(recorder).filter((r) => r.event === "start")).toHaveLength(1);
    }, 60_000);

    it("a run's process gets the pool's job template rendered with the run's job variables, over the worker's env; the worker says what NODE_EXTRA_CA_CERTS costs", async () => {
      const certs = join(t.dir, "extra-ca.pem");
      writeFileSync(certs, "");
      const template = processBaseJobTemplate();
      const env = template.variables["properties"] as Record<string, Record<string, unknown>>;
      env["env"]!["default"] = { FROM_POOL: "pool", NODE_EXTRA_CA_CERTS: "", WORKERS: 4 };
      await t.client.request("POST", "/work_pools/", { name: "env", type: "process", base_job_template: template });
      const names = ["FROM_WORKER", "FROM_POOL", "FROM_JOB", "NODE_EXTRA_CA_CERTS", "WORKERS"];
      const plain = await deploy(t.client, { pool: "env", exportName: "environment", flowName: "environment", parameters: { names } });
      const own = await t.client.request<Deployment>("POST", "/deployments/", {
        name: "environment-own-env",
        flow_id: plain.flow_id,
        work_pool_name: "env",
        path: plain.path,
        entrypoint: plain.entrypoint,
        parameters: { names },
        job_variables: { env: { FROM_JOB: "job" } },
      });
      const [fromPool, fromJob] = [await createRun(t.client, plain.id), await createRun(t.client, own.id)];
      const worker = spawnWorker(t.apiUrl, "env", [], { BATON_TEST_RECORDER: recorder, FROM_WORKER: "worker", NODE_EXTRA_CA_CERTS: certs });
      workers.push(worker);

      const [a, b] = await Promise.all([fromPool, fromJob].map((run) => waitForState(t.client, run.id, ["COMPLETED", "FAILED", "CRASHED"], 30_000, outputs)));
      expect(a!.state_type, outputs()).toBe("COMPLETED");
      expect(a!.state?.data).toEqual({ type: "json", value: { FROM_WORKER: "worker", FROM_POOL: "pool", FROM_JOB: null, NODE_EXTRA_CA_CERTS: "", WORKERS: "4" } });
      // The deployment's env replaces the template's default whole, as in Prefect.
      expect(b!.state?.data).toEqual({ type: "json", value: { FROM_WORKER: "worker", FROM_POOL: null, FROM_JOB: "job", NODE_EXTRA_CA_CERTS: certs, WORKERS: null } });
      expect(worker.output()).toContain(`NODE_EXTRA_CA_CERTS is set (${certs}, 0 KB)`);
      expect(worker.output()).toContain('{"env": {"NODE_EXTRA_CA_CERTS": ""}}');
    }, 60_000);

    it("a process that exits non-zero makes the run CRASHED; with retries left it runs again and completes", async () => {
      const retrying = await deploy(t.client, { pool: "crashes", exportName: "crashing", flowName: "crashing" });
      const final = await deploy(t.client, { pool: "crashes", exportName: "crashingNoRetries", flowName: "crashing-no-retries" });
      const retried = await createRun(t.client, retrying.id);
      const crashed = await createRun(t.client, final.id);
      startWorker("crashes");

      const noRetries = await waitForState(t.client, crashed.id, ["CRASHED", "COMPLETED", "FAILED"], 30_000, outputs);
      expect(noRetries.state_type).toBe("CRASHED");
      expect(noRetries.state?.message).toContain("exit code 4");

      const recovered = await waitForState(t.client, retried.id, ["COMPLETED", "FAILED"], 30_000, outputs);
      expect(recovered.state_type, outputs()).toBe("COMPLETED");
      expect(recovered.state?.data).toEqual({ type: "json", value: "recovered" });
      expect(recovered.run_count).toBe(2);
      const history = (await stateHistory(t.client, retried.id)).map((s) => `${s.type}:${s.name}`);
      expect(history).toEqual([
        "SCHEDULED:Scheduled",
        "PENDING:Pending",
        "RUNNING:Running",
        "CRASHED:Crashed",
        "SCHEDULED:AwaitingRetry",
        "PENDING:Pending",
        "RUNNING:Running",
        "COMPLETED:Completed",
      ]);
      const starts = readRecorder(recorder).filter((r) => r.runId === retried.id && r.event === "start");
      expect(starts.map((r) => r.runCount)).toEqual([1, 2]);
    }, 60_000);

    it("a failing flow with retries is retried once and ends FAILED: every attempt runs exactly once", async () => {
      const deployment = await deploy(t.client, { pool: "fails", exportName: "failing", flowName: "failing" });
      const run = await createRun(t.client, deployment.id);
      // Two workers polling often: neither may start the retry a second time.
      startWorker("fails");
      startWorker("fails");

      const failed = await waitForState(t.client, run.id, ["FAILED", "COMPLETED", "CRASHED"], 30_000, outputs);
      expect(failed.state_type, outputs()).toBe("FAILED");
      expect(failed.run_count).toBe(2);
      await sleep(1500);
      const starts = readRecorder(recorder).filter((r) => r.runId === run.id && r.event === "start");
      expect(starts.map((r) => r.runCount)).toEqual([1, 2]);
      const history = await stateHistory(t.client, run.id);
      // The retry was claimed once (by its own process, or by a worker if it got there first).
      expect(history.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "SCHEDULED", "PENDING", "RUNNING", "FAILED"]);
    }, 60_000);

    it("kill -9 of the worker in the middle of a run: the run's process lives on and the run completes", async () => {
      const deployment = await deploy(t.client, { pool: "orphans", exportName: "slow", flowName: "slow" });
      const run = await createRun(t.client, deployment.id, { seconds: 3 });
      const worker = startWorker("orphans");

      const running = await waitForState(t.client, run.id, ["RUNNING"], 30_000, outputs);
      const pid = pidOf(running);
      orphans.push(pid);
      worker.child.kill("SIGKILL");
      expect((await worker.exited).signal).toBe("SIGKILL");
      expect(groupAlive(pid)).toBe(true);

      const done = await waitForState(t.client, run.id, ["COMPLETED", "FAILED", "CRASHED"], 30_000, outputs);
      expect(done.state_type).toBe("COMPLETED");
      expect(readRecorder(recorder).filter((r) => r.runId === run.id).map((r) => r.event)).toEqual(["start", "end"]);
    }, 60_000);

    it("cancelling a running run stops its process (SIGTERM) and ends CANCELLED", async () => {
      const deployment = await deploy(t.client, { pool: "cancels", exportName: "slow", flowName: "slow" });
      const run = await createRun(t.client, deployment.id, { seconds: 120 });
      startWorker("cancels", ["--cancel-grace-seconds", "5"]);

      const running = await waitForState(t.client, run.id, ["RUNNING"], 30_000, outputs);
      const pid = pidOf(running);
      orphans.push(pid);
      const asked = await t.client.setFlowRunState(run.id, { type: "CANCELLING", name: "Cancelling" });
      expect(asked.status).toBe("ACCEPT");

      const cancelled = await waitForState(t.client, run.id, ["CANCELLED", "CRASHED", "COMPLETED", "FAILED"], 30_000, outputs);
      expect(cancelled.state_type, outputs()).toBe("CANCELLED");
      await waitFor(async () => (groupAlive(pid) ? undefined : true), `process ${pid} to be gone`, 5000);
      expect(readRecorder(recorder).filter((r) => r.runId === run.id).map((r) => r.event)).toEqual(["start"]);
      expect((await stateHistory(t.client, run.id)).map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "CANCELLING", "CANCELLED"]);
    }, 60_000);

    it("a worker started after its predecessor was killed stops the processes that one started when their runs are cancelled", async () => {
      const deployment = await deploy(t.client, { pool: "handover", exportName: "slow", flowName: "slow" });
      const run = await createRun(t.client, deployment.id, { seconds: 120 });
      const first = startWorker("handover");
      const running = await waitForState(t.client, run.id, ["RUNNING"], 30_000, outputs);
      const pid = pidOf(running);
      orphans.push(pid);
      first.child.kill("SIGKILL");
      await first.exited;

      startWorker("handover", ["--cancel-grace-seconds", "5"]);
      await t.client.setFlowRunState(run.id, { type: "CANCELLING", name: "Cancelling" });
      const cancelled = await waitForState(t.client, run.id, ["CANCELLED", "CRASHED", "COMPLETED", "FAILED"], 30_000, outputs);
      expect(cancelled.state_type, outputs()).toBe("CANCELLED");
      await waitFor(async () => (groupAlive(pid) ? undefined : true), `process ${pid} to be gone`, 5000);
    }, 60_000);

    it("SIGTERM: the worker claims nothing more, waits for its running flow run, and exits 0", async () => {
      const deployment = await deploy(t.client, { pool: "graceful", exportName: "slow", flowName: "slow" });
      const first = await createRun(t.client, deployment.id, { seconds: 2 });
      const worker = startWorker("graceful");
      await waitForState(t.client, first.id, ["RUNNING"], 30_000, outputs);

      worker.child.kill("SIGTERM");
      await waitFor(async () => (worker.output().includes("Stopping: claiming no more runs") ? true : undefined), "the worker to stop claiming", 10_000, outputs);
      const second = await createRun(t.client, deployment.id, { seconds: 0 });
      const exit = await worker.exited;
      expect(exit, outputs()).toEqual({ code: 0, signal: null });
      expect((await t.client.readFlowRun(first.id)).state_type).toBe("COMPLETED");
      await sleep(1000);
      expect((await t.client.readFlowRun(second.id)).state_type).toBe("SCHEDULED");
    }, 60_000);

    it("SIGINT with a grace period shorter than the run: the worker exits 0 and the run's process finishes on its own", async () => {
      const deployment = await deploy(t.client, { pool: "impatient", exportName: "slow", flowName: "slow" });
      const run = await createRun(t.client, deployment.id, { seconds: 4 });
      const worker = startWorker("impatient", ["--shutdown-grace-seconds", "0.5"]);
      const running = await waitForState(t.client, run.id, ["RUNNING"], 30_000, outputs);
      orphans.push(pidOf(running));

      worker.child.kill("SIGINT");
      const exit = await worker.exited;
      expect(exit, outputs()).toEqual({ code: 0, signal: null });
      expect(worker.output()).toContain("still running");
      expect((await t.client.readFlowRun(run.id)).state_type).toBe("RUNNING");
      const done = await waitForState(t.client, run.id, ["COMPLETED", "FAILED", "CRASHED"], 30_000, outputs);
      expect(done.state_type).toBe("COMPLETED");
    }, 60_000);
  });

  describe(`process worker with the zombies service (${dialect})`, () => {
    let t: TestServer;
    let recorder: string;
    const workers: RunningWorker[] = [];

    beforeEach(async () => {
      t = await startTestServer(dialect, { zombieTimeoutSeconds: 3 });
      recorder = join(t.dir, "executions.log");
    });
    afterEach(async () => {
      for (const w of workers.splice(0)) {
        if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill("SIGKILL");
      }
      await t.close();
    });

    it("kill -9 of the worker and of the run's process: the run is CRASHED within the zombie timeout, then retried by a new worker", async () => {
      const outputs = () => workers.map((w) => w.output()).join("\n---\n");
      const deployment = await deploy(t.client, { pool: "zombies", exportName: "slow", flowName: "slow" });
      const run = await createRun(t.client, deployment.id, { seconds: 120 });
      const first = spawnWorker(t.apiUrl, "zombies", [], { BATON_TEST_RECORDER: recorder });
      workers.push(first);
      const running = await waitForState(t.client, run.id, ["RUNNING"], 30_000, outputs);
      const pid = pidOf(running);
      // The server judges runs that have sent a heartbeat; the SDK sends its first at RUNNING.
      await waitFor(async () => {
        const page = await t.client.request<{ total: number }>("POST", "/events/filter", {
          filter: { event: { name: ["prefect.flow-run.heartbeat"] }, resource: { id: [`prefect.flow-run.${run.id}`] } },
          limit: 1,
        });
        return page.total > 0 ? true : undefined;
      }, "a heartbeat of the run");

      first.child.kill("SIGKILL");
      process.kill(-pid, "SIGKILL");
      await first.exited;
      const killedAt = Date.now();

      // Crashed by the zombies service (timeout 3 s, checked every second), then AwaitingRetry:
      // two transitions, so a read between them sees CRASHED; wait for the second.
      const awaiting = await waitForState(t.client, run.id, ["SCHEDULED"], 20_000);
      expect(Date.now() - killedAt).toBeLessThan(15_000);
      const history = await stateHistory(t.client, run.id);
      expect(history.map((s) => s.type)).toContain("CRASHED");
      expect(awaiting.state_type).toBe("SCHEDULED");
      expect(awaiting.state_name).toBe("AwaitingRetry");

      const second = spawnWorker(t.apiUrl, "zombies", [], { BATON_TEST_RECORDER: recorder });
      workers.push(second);
      const done = await waitForState(t.client, run.id, ["COMPLETED", "FAILED", "CRASHED"], 30_000, outputs);
      expect(done.state_type, outputs()).toBe("COMPLETED");
      expect(done.run_count).toBe(2);
      const starts = readRecorder(recorder).filter((r) => r.event === "start");
      expect(starts.map((r) => r.runCount)).toEqual([1, 2]);
    }, 90_000);
  });
}
