import { fileURLToPath } from "node:url";
import type { Deployment, FlowRun } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, runCli, spawnCli, startTestServer, type RunningCli, type TestServer } from "./helpers.js";

const EXAMPLE_FILE = fileURLToPath(new URL("../../../examples/deploy/baton.yaml", import.meta.url));

let t: TestServer;
let env: Record<string, string>;
let daily: Deployment;

beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
  await t.client.request("POST", "/work_pools/", { name: "local", type: "process" });
  const deployed = await runCli(["deploy", "--file", EXAMPLE_FILE], env);
  if (deployed.code !== 0) throw new Error(`baton deploy failed: ${deployed.stderr}`);
  daily = await t.client.request<Deployment>("GET", "/deployments/name/etl/daily");
});
afterAll(async () => {
  await t.close();
});

/** The id in "Created flow run 'name' (id) of deployment ...". */
function createdRunId(stdout: string): string {
  const id = /^Created flow run '[^']+' \(([0-9a-f-]{36})\) of deployment 'etl\/daily'$/m.exec(stdout)?.[1];
  if (id === undefined) throw new Error(`no run id in: ${stdout}`);
  return id;
}

describe("baton deployment run", () => {
  it("creates a Scheduled run of the deployment with --params, --param (read as JSON when it parses) and the deployment's defaults", async () => {
    const result = await runCli(
      ["deployment", "run", "etl/daily", "--params", '{"date": "2026-01-31", "note": "from --params"}', "--param", "note=007", "-p", "tags=[1,2]"],
      env,
    );
    expect(result.code, result.stderr).toBe(0);
    const id = createdRunId(result.stdout);
    const run = await t.client.readFlowRun(id);
    expect(run.deployment_id).toBe(daily.id);
    expect(run.state_type).toBe("SCHEDULED");
    expect(run.parameters).toEqual({ limit: 10, date: "2026-01-31", note: "007", tags: [1, 2] });
    expect(result.stdout).toContain(`run by:     a worker of work pool 'local'; follow it with: baton flow-run logs ${id} --follow`);
  });

  it("takes the deployment's id instead of its name", async () => {
    const result = await runCli(["deployment", "run", daily.id, "--param", "date=2026-02-01"], env);
    expect(result.code, result.stderr).toBe(0);
    const run = await t.client.readFlowRun(createdRunId(result.stdout));
    expect(run.deployment_id).toBe(daily.id);
    expect(run.parameters).toEqual({ limit: 10, date: "2026-02-01" });
  });

  const usage: Array<[string, string[], RegExp]> = [
    ["a name without a slash", ["deployment", "run", "etl"], /argument 'name-or-id'.*Expected flow-name\/deployment-name/],
    ["a --param without =", ["deployment", "run", "etl/daily", "--param", "date"], /Expected key=value/],
    ["--params that is not a JSON object", ["deployment", "run", "etl/daily", "--params", "[1]"], /Expected a JSON object/],
    ["a --watch-interval that is not a number", ["deployment", "run", "etl/daily", "--watch", "--watch-interval", "soon"], /Expected a number of seconds/],
  ];
  for (const [what, args, message] of usage) {
    it(`refuses ${what} with one line and exit 2, creating nothing`, async () => {
      const before = await t.client.request<number>("POST", "/flow_runs/count", {});
      const result = await runCli(args, env);
      expect(result.code).toBe(2);
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr).toMatch(message);
      expect(await t.client.request<number>("POST", "/flow_runs/count", {})).toBe(before);
    });
  }

  it("reports an unknown deployment and parameters its schema refuses with one line and exit 1", async () => {
    const unknown = await runCli(["deployment", "run", "etl/weekly"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe("error: Deployment etl/weekly not found");
    const missing = await runCli(["deployment", "run", "etl/daily"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe("error: Deployment 'etl/daily' refused the run: parameters.date: required parameter is missing");
    const wrongType = await runCli(["deployment", "run", "etl/daily", "--param", "date=2026-01-31", "--param", "limit=lots"], env);
    expect(wrongType.code).toBe(1);
    expect(wrongType.stderr.trim()).toBe("error: Deployment 'etl/daily' refused the run: parameters.limit: must be number");
  });

  describe("--watch, with a worker of the deployment's pool running the runs", () => {
    let worker: RunningCli;
    beforeAll(async () => {
      // Runs left by the tests above would be claimed first and hold the deployment's one slot.
      const leftovers = await t.client.filterFlowRuns({ flow_runs: { deployment_id: { any_: [daily.id] }, state: { type: { any_: ["SCHEDULED"] } } } });
      for (const run of leftovers) {
        if (Date.parse(run.next_scheduled_start_time ?? "") <= Date.now()) await t.client.request("DELETE", `/flow_runs/${run.id}`);
      }
      worker = spawnCli(["worker", "start", "--pool", "local", "--query-seconds", "0.5"], env);
    });
    afterAll(async () => {
      worker.child.kill("SIGTERM");
      await worker.result;
    });

    it("prints the run's states and logs as they come and exits 0 when it completes", async () => {
      const result = await runCli(["deployment", "run", "etl/daily", "--param", "date=2026-01-31", "--param", "limit=3", "--watch", "--watch-interval", "0.2"], env);
      expect(result.code, `${result.stderr}\n${worker.stdout()}`).toBe(0);
      const id = createdRunId(result.stdout);
      const out = lines(result.stdout);
      const states = out.filter((line) => line.includes(" | STATE    | ")).map((line) => line.split(" | ")[2]);
      expect(states).toEqual(["Scheduled", "Pending", "Running", "Completed"]);
      expect(result.stdout).toMatch(/\| INFO {5}\| baton\.flow_runs - loaded 3 rows for 2026-01-31$/m);
      expect(out.at(-1)).toMatch(/^Flow run '[^']+' finished in state Completed$/);
      const run: FlowRun = await t.client.readFlowRun(id);
      expect(run.state_type).toBe("COMPLETED");
    }, 60_000);

    it("exits 1 with one line naming the final state when the run fails", async () => {
      const result = await runCli(["deployment", "run", "etl/daily", "--param", "date=2026-01-31", "--param", "limit=-1", "--watch", "--watch-interval", "0.2"], env);
      expect(result.code, result.stdout).toBe(1);
      const id = createdRunId(result.stdout);
      expect(result.stdout).toMatch(/\| STATE {4}\| Failed - Flow run encountered an exception: Error: limit must be a whole number of at least 1, got -1$/m);
      expect(lines(result.stderr)).toEqual([
        `error: Flow run '${(await t.client.readFlowRun(id)).name}' (${id}) finished in state Failed: Flow run encountered an exception: Error: limit must be a whole number of at least 1, got -1`,
      ]);
    }, 60_000);
  });
});
