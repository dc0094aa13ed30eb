import type { Flow, FlowRun, StateType, TaskRun } from "@baton/core";
import type { BatonClient } from "@baton/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, runCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;
let etl: Flow;
let report: Flow;
let completedRun: FlowRun;
let failedRun: FlowRun;
let scheduledRun: FlowRun;

/** Moves a run through `types` with ordinary (not forced) transitions, failing loudly if refused. */
async function moveFlowRun(client: BatonClient, id: string, types: StateType[], message?: string): Promise<void> {
  for (const type of types) {
    const result = await client.setFlowRunState(id, { type, ...(message === undefined ? {} : { message }) });
    if (result.status !== "ACCEPT") throw new Error(`flow run ${id} -> ${type}: ${result.status}`);
  }
}

async function createTaskRun(client: BatonClient, flowRunId: string, key: string): Promise<TaskRun> {
  const run = await client.createTaskRun({ flow_run_id: flowRunId, task_key: key, dynamic_key: "0", name: `${key}-0`, state: { type: "PENDING" } });
  for (const type of ["RUNNING", "COMPLETED"] as const) {
    const result = await client.setTaskRunState(run.id, { type });
    if (result.status !== "ACCEPT") throw new Error(`task run ${key} -> ${type}: ${result.status}`);
  }
  return run;
}

function hoursAgo(hours: number): string {
  return new Date(Date.now() - hours * 3_600_000).toISOString();
}

beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
  const client = t.client;
  etl = await client.createFlow({ name: "etl-pipeline" });
  report = await client.createFlow({ name: "nightly-report" });
  const scheduledAt = (hours: number) => ({ type: "SCHEDULED" as const, state_details: { scheduled_time: hoursAgo(hours) } });

  // Created in an order unlike their start times, so that "newest first" is not creation order.
  scheduledRun = await client.createFlowRun({ flow_id: report.id, name: "quick-lynx", state: scheduledAt(1) });

  completedRun = await client.createFlowRun({ flow_id: etl.id, name: "brave-otter", state: scheduledAt(3) });
  await moveFlowRun(client, completedRun.id, ["PENDING", "RUNNING"]);
  await createTaskRun(client, completedRun.id, "extract");
  await createTaskRun(client, completedRun.id, "load");
  await moveFlowRun(client, completedRun.id, ["COMPLETED"]);

  failedRun = await client.createFlowRun({ flow_id: etl.id, name: "calm-heron", state: scheduledAt(2) });
  await moveFlowRun(client, failedRun.id, ["PENDING", "RUNNING"]);
  await moveFlowRun(client, failedRun.id, ["FAILED"], "boom: division by zero");

  await client.request("POST", "/deployments/", { name: "daily", flow_id: etl.id });
});

afterAll(async () => {
  await t?.close();
});

/** The data rows of a table (the header dropped), as the first cell of each. */
function firstColumn(stdout: string): string[] {
  return lines(stdout)
    .slice(1)
    .map((line) => line.split(/\s{2,}/)[0] ?? "");
}

describe("baton flow ls", () => {
  it("lists flows newest first in aligned columns", async () => {
    const result = await runCli(["flow", "ls"], env);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const [header, ...rows] = lines(result.stdout);
    expect(header).toMatch(/^ID\s+NAME\s+CREATED/);
    expect(rows.map((row) => row.split(/\s{2,}/)[1])).toEqual(["nightly-report", "etl-pipeline"]);
    // Aligned: every row's NAME starts where the header's does.
    const nameAt = header!.indexOf("NAME");
    for (const row of rows) expect(row.slice(nameAt)).toMatch(/^(nightly-report|etl-pipeline)/);
  });

  it("--json prints the API objects", async () => {
    const result = await runCli(["flow", "ls", "--json"], env);
    expect(result.code).toBe(0);
    const flows = JSON.parse(result.stdout) as Flow[];
    expect(flows.map((f) => f.id).sort()).toEqual([etl.id, report.id].sort());
  });

  it("--limit caps the list", async () => {
    const result = await runCli(["flow", "ls", "--limit", "1"], env);
    expect(result.code).toBe(0);
    expect(lines(result.stdout)).toHaveLength(2);
  });
});

describe("baton flow-run ls", () => {
  it("lists runs newest first with flow, state, start and duration", async () => {
    const result = await runCli(["flow-run", "ls"], env);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const [header, ...rows] = lines(result.stdout);
    expect(header).toMatch(/^ID\s+NAME\s+FLOW\s+STATE\s+START\s+DURATION\s+TASKS$/);
    expect(firstColumn(result.stdout)).toEqual([scheduledRun.id, failedRun.id, completedRun.id]);
    const completed = rows.find((row) => row.startsWith(completedRun.id));
    // Two task runs.
    expect(completed).toMatch(/brave-otter\s+etl-pipeline\s+Completed\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+\S+\s+2$/);
    const scheduled = rows.find((row) => row.startsWith(scheduledRun.id));
    // Not started yet: no duration.
    expect(scheduled).toMatch(/quick-lynx\s+nightly-report\s+\S+.*\s-\s+0$/);
  });

  it("--state filters by state type, in any case, repeated or as a list", async () => {
    const one = await runCli(["flow-run", "ls", "--state", "completed"], env);
    expect(one.code).toBe(0);
    expect(firstColumn(one.stdout)).toEqual([completedRun.id]);

    const repeated = await runCli(["flow-run", "ls", "--state", "COMPLETED", "--state", "Failed"], env);
    expect(firstColumn(repeated.stdout)).toEqual([failedRun.id, completedRun.id]);

    const list = await runCli(["flow-run", "ls", "--state", "failed", "scheduled"], env);
    expect(firstColumn(list.stdout)).toEqual([scheduledRun.id, failedRun.id]);

    const none = await runCli(["flow-run", "ls", "--state", "crashed"], env);
    expect(none).toMatchObject({ code: 0, stdout: "No flow runs found.\n" });
  });

  it("--flow filters by flow name and --limit caps the list", async () => {
    const byFlow = await runCli(["flow-run", "ls", "--flow", "nightly-report"], env);
    expect(firstColumn(byFlow.stdout)).toEqual([scheduledRun.id]);
    const limited = await runCli(["flow-run", "ls", "--limit", "2"], env);
    expect(firstColumn(limited.stdout)).toEqual([scheduledRun.id, failedRun.id]);
  });

  it("--json prints the API objects", async () => {
    const result = await runCli(["flow-run", "ls", "--json", "--state", "failed", "completed"], env);
    expect(result.code).toBe(0);
    const runs = JSON.parse(result.stdout) as FlowRun[];
    expect(runs.map((r) => [r.name, r.state_type])).toEqual([
      ["calm-heron", "FAILED"],
      ["brave-otter", "COMPLETED"],
    ]);
  });
});

describe("baton flow-run inspect", () => {
  it("shows the run, its state history and its task runs", async () => {
    const result = await runCli(["flow-run", "inspect", completedRun.id], env);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const out = result.stdout;
    expect(out).toMatch(new RegExp(`^ID:\\s+${completedRun.id}$`, "m"));
    expect(out).toMatch(/^Flow:\s+etl-pipeline \(/m);
    expect(out).toMatch(/^State:\s+Completed$/m);
    expect(out).toContain("State history (4):");
    const history = out.slice(out.indexOf("State history (4):"), out.indexOf("Task runs"));
    // Rows after the title and the header: TIME, TYPE, NAME, MESSAGE.
    const types = lines(history)
      .slice(2)
      .map((line) => line.trim().split(/\s{2,}/)[1]);
    expect(types).toEqual(["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]);
    expect(out).toContain("Task runs (2):");
    const taskRuns = lines(out.slice(out.indexOf("Task runs (2):"))).slice(2);
    expect(taskRuns.map((line) => line.trim().split(/\s{2,}/).slice(1, 3))).toEqual([
      ["extract-0", "Completed"],
      ["load-0", "Completed"],
    ]);
  });

  it("shows the failure message", async () => {
    const result = await runCli(["flow-run", "inspect", failedRun.id], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Message:\s+boom: division by zero$/m);
    expect(result.stdout).toContain("Task runs (0):\n  none");
  });

  it("--json prints the run, its states and its task runs", async () => {
    const result = await runCli(["flow-run", "inspect", completedRun.id, "--json"], env);
    expect(result.code).toBe(0);
    const body = JSON.parse(result.stdout) as { flow_run: FlowRun; states: { type: string }[]; task_runs: TaskRun[] };
    expect(body.flow_run.id).toBe(completedRun.id);
    expect(body.states.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]);
    expect(body.task_runs.map((r) => r.name)).toEqual(["extract-0", "load-0"]);
  });

  it("an unknown id is reported in one line with exit code 1", async () => {
    const id = "00000000-0000-4000-8000-000000000000";
    for (const command of ["inspect", "logs"]) {
      const result = await runCli(["flow-run", command, id], env);
      expect(result).toMatchObject({ code: 1, stdout: "", stderr: `error: Flow run ${id} not found\n` });
    }
  });
});

describe("baton deployment ls", () => {
  it("lists deployments as flow/deployment", async () => {
    const result = await runCli(["deployment", "ls"], env);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const [header, row] = lines(result.stdout);
    expect(header).toMatch(/^ID\s+NAME\s+STATUS\s+SCHEDULES\s+WORK POOL$/);
    expect(row).toMatch(/\setl-pipeline\/daily\s/);
    const json = JSON.parse((await runCli(["deployment", "ls", "--json"], env)).stdout) as { name: string; flow_id: string }[];
    expect(json).toEqual([expect.objectContaining({ name: "daily", flow_id: etl.id })]);
  });
});

describe("baton config view", () => {
  it("prints every setting, its value and where it came from", async () => {
    const result = await runCli(["config", "view"], { BATON_HOME: "/tmp/baton-home-test", BATON_SERVER_PORT: "4321" });
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const out = result.stdout;
    expect(out).toMatch(/^SETTING\s+VALUE\s+SOURCE$/m);
    expect(out).toMatch(/^BATON_HOME\s+\/tmp\/baton-home-test\s+env$/m);
    expect(out).toMatch(/^BATON_DATABASE_URL\s+sqlite:\/tmp\/baton-home-test\/baton\.db\s+default$/m);
    expect(out).toMatch(/^BATON_SERVER_PORT\s+4321\s+env$/m);
    expect(out).toMatch(/^BATON_API_URL\s+http:\/\/127\.0\.0\.1:4200\/api\s+default$/m);
  });

  it("--json prints an object of settings, with BATON_API_URL", async () => {
    const result = await runCli(["config", "view", "--json"], { BATON_API_URL: "http://example.test:9999/api" });
    expect(result.code).toBe(0);
    const settings = JSON.parse(result.stdout) as Record<string, string>;
    expect(settings["BATON_API_URL"]).toBe("http://example.test:9999/api");
    expect(settings["BATON_LOG_LEVEL"]).toBe("info");
  });

  it("a bad setting is one line naming the variable, exit code 1", async () => {
    const result = await runCli(["config", "view"], { BATON_SERVER_PORT: "lots" });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: Invalid setting BATON_SERVER_PORT/)]);
  });
});
