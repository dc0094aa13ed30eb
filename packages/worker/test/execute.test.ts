import { execFile } from "node:child_process";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { BATON_BIN, DIALECTS, createRun, deploy, readRecorder, startTestServer, stateHistory, workerEnv, type TestServer } from "./helpers.js";

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `baton ...args` as a child process (the server runs in this one, so it must not block). */
function baton(args: string[], env: NodeJS.ProcessEnv): Promise<Result> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BATON_BIN, ...args], { env, timeout: 60_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : null) : 0, stdout, stderr });
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`baton flow-run execute (${dialect})`, () => {
    let t: TestServer;
    let recorder: string;
    const execute = (id: string) => baton(["flow-run", "execute", id], workerEnv(t.apiUrl, { BATON_TEST_RECORDER: recorder }));

    beforeEach(async () => {
      t = await startTestServer(dialect);
      recorder = join(t.dir, "executions.log");
    });
    afterEach(async () => {
      await t.close();
    });

    it("runs the deployment's flow for that run, with the run's parameters, and exits 0", async () => {
      const deployment = await deploy(t.client, { pool: "exec", exportName: "chatty", flowName: "chatty", parameters: { word: "default" } });
      const run = await createRun(t.client, deployment.id, { word: "given" });
      const result = await execute(run.id);
      expect(result, result.stderr).toMatchObject({ code: 0 });
      expect(result.stdout).toContain("stdout says given");
      const done = await t.client.readFlowRun(run.id);
      expect(done.state_type).toBe("COMPLETED");
      expect(done.state?.data).toEqual({ type: "json", value: "given" });
      // The run was run, not copied: no other flow run exists.
      expect(await t.client.request<number>("POST", "/flow_runs/count", {})).toBe(1);
      expect((await stateHistory(t.client, run.id)).map((s) => s.type)).toEqual(["SCHEDULED", "RUNNING", "COMPLETED"]);
    });

    it("fills in the flow's retries on a run that has none, so a failing flow is retried, and exits 1 when it ends FAILED", async () => {
      const deployment = await deploy(t.client, { pool: "exec", exportName: "failing", flowName: "failing" });
      const run = await createRun(t.client, deployment.id);
      expect(run.empirical_policy.retries).toBeNull();
      const result = await execute(run.id);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^error: Flow run '.+' \(.+\) ended in state Failed\n$/m);
      const failed = await t.client.readFlowRun(run.id);
      expect(failed).toMatchObject({ state_type: "FAILED", run_count: 2 });
      expect(failed.empirical_policy).toMatchObject({ retries: 1, retry_delay: 2 });
      expect(readRecorder(recorder).map((r) => r.runCount)).toEqual([1, 2]);
    }, 30_000);

    it("parameters the flow function does not take fail the run without calling it", async () => {
      const deployment = await deploy(t.client, { pool: "exec", exportName: "chatty", flowName: "chatty" });
      const run = await createRun(t.client, deployment.id, { word: "x", colour: "blue" });
      const result = await execute(run.id);
      expect(result.code).toBe(1);
      const failed = await t.client.readFlowRun(run.id);
      expect(failed.state_type).toBe("FAILED");
      expect(failed.state?.message).toContain("Validation of flow parameters failed");
      expect(failed.state?.message).toContain("'colour'");
      expect(readRecorder(recorder)).toEqual([]);
    });

    it("an entrypoint that leads to no flow crashes the run with the reason, and exits 1 with one line", async () => {
      const missing = await deploy(t.client, { pool: "exec", exportName: "nowhere", flowName: "missing" });
      const notAFlow = await deploy(t.client, { pool: "exec", exportName: "notAFlow", flowName: "not-a-flow" });
      for (const [deployment, reason] of [
        [missing, "has no export named 'nowhere'"],
        [notAFlow, "is not a flow"],
      ] as const) {
        const run = await createRun(t.client, deployment.id);
        const result = await execute(run.id);
        expect(result.code).toBe(1);
        expect(result.stderr.trim().split("\n")).toHaveLength(1);
        expect(result.stderr).toContain(reason);
        const crashed = await t.client.readFlowRun(run.id);
        expect(crashed.state_type).toBe("CRASHED");
        expect(crashed.state?.message).toContain(reason);
      }
    });

    it("refuses a cancelled run, a run without a deployment and an unknown id, with exit code 1", async () => {
      const deployment = await deploy(t.client, { pool: "exec", exportName: "quick", flowName: "quick" });
      const cancelled = await createRun(t.client, deployment.id);
      await t.client.setFlowRunState(cancelled.id, { type: "CANCELLING", name: "Cancelling" });
      expect((await t.client.readFlowRun(cancelled.id)).state_type).toBe("CANCELLED");
      const flow = await t.client.createFlow({ name: "adhoc" });
      const adhoc = await t.client.createFlowRun({ flow_id: flow.id, state: { type: "PENDING" } });

      const refused = await execute(cancelled.id);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(`error: Flow run ${cancelled.id} cannot be executed: it is Cancelled\n`);
      expect((await t.client.readFlowRun(cancelled.id)).state_type).toBe("CANCELLED");

      const noDeployment = await execute(adhoc.id);
      expect(noDeployment.code).toBe(1);
      expect(noDeployment.stderr).toContain("has no deployment");

      const unknown = "0b7e1c2a-5d3f-4a8e-9c61-2f4d8e6a1b3c";
      expect(await execute(unknown)).toMatchObject({ code: 1, stderr: `error: Flow run ${unknown} not found\n` });
      expect(readRecorder(recorder)).toEqual([]);
    });
  });
}

describe("baton worker start: bad arguments and an unreachable server", () => {
  const env = workerEnv("http://127.0.0.1:9/api");

  it.each([
    [["worker", "start"], /required option '-p, --pool <name>' not specified/],
    [["worker", "start", "--pool", "p", "--limit", "0"], /--limit.*Expected a positive whole number/],
    [["worker", "start", "--pool", "p", "--query-seconds", "soon"], /--query-seconds.*Expected a number of seconds/],
    [["flow-run", "execute", "not-an-id"], /Expected a UUID/],
  ])("%j exits 2 with one line", async (args, message) => {
    const result = await baton(args, env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(message);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });

  it("exits 1 naming the URL when the server cannot be reached", async () => {
    const result = await baton(["worker", "start", "--pool", "p"], env);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/^error: Cannot reach the Baton server at http:\/\/127\.0\.0\.1:9\/api/);
    expect(result.stderr.trim().split("\n")).toHaveLength(1);
  });
});
