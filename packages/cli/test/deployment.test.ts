import type { Deployment, DeploymentSchedule, Flow, FlowRun } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, lines, runCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;
let flow: Flow;
let nightly: Deployment;

beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
  flow = await t.client.createFlow({ name: "etl" });
  nightly = await t.client.request<Deployment>("POST", "/deployments/", {
    flow_id: flow.id,
    name: "nightly",
    description: "loads the warehouse",
    tags: ["prod"],
    parameters: { source: "s3" },
    concurrency_limit: 2,
    schedules: [{ schedule: { interval: 3600, anchor_date: "2026-01-01T00:00:00Z" }, slug: "hourly" }],
  });
});

afterAll(async () => {
  await t?.close();
});

const schedulesOf = (id: string) => t.client.request<DeploymentSchedule[]>("GET", `/deployments/${id}/schedules`);
const autoRuns = async (id: string) =>
  (await t.client.request<FlowRun[]>("POST", "/flow_runs/filter", { deployments: { id: { any_: [id] } } })).filter((r) => r.auto_scheduled);

describe("baton deployment inspect", () => {
  it("shows the deployment, its schedules and its next runs, by name or by id", async () => {
    const byName = await runCli(["deployment", "inspect", "etl/nightly"], env);
    expect(byName).toMatchObject({ code: 0, stderr: "" });
    const out = byName.stdout;
    expect(out).toMatch(/^ID:\s+/m);
    expect(out).toContain(nightly.id);
    expect(out).toMatch(/^Name:\s+etl\/nightly$/m);
    expect(out).toMatch(/^Concurrency:\s+2 \(ENQUEUE\)$/m);
    expect(out).toMatch(/^Tags:\s+prod$/m);
    expect(out).toContain("Schedules (1):");
    expect(out).toMatch(/every 1h from \S+ \S+\s+yes\s+-\s+hourly/);
    // The server fills the schedule as soon as the deployment is saved.
    expect(out).toContain("Upcoming runs (3):");
    const byId = await runCli(["deployment", "inspect", nightly.id, "--runs", "1"], env);
    expect(byId.code).toBe(0);
    expect(byId.stdout).toContain("Upcoming runs (1):");
  });

  it("--json prints the deployment and its upcoming runs", async () => {
    const result = await runCli(["deployment", "inspect", "etl/nightly", "--json"], env);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout) as { deployment: Deployment; upcoming_runs: FlowRun[] };
    expect(json.deployment.id).toBe(nightly.id);
    expect(json.upcoming_runs.length).toBeGreaterThan(0);
    for (const run of json.upcoming_runs) expect(run.deployment_id).toBe(nightly.id);
  });

  it("says which deployment is missing (exit 1), and refuses a malformed name (exit 2)", async () => {
    const missing = await runCli(["deployment", "inspect", "etl/nope"], env);
    expect(missing.code).toBe(1);
    expect(lines(missing.stderr)).toEqual(["error: Deployment etl/nope not found"]);
    const unknownId = await runCli(["deployment", "inspect", "0b7e1c2a-5d3f-4a8e-9c61-2f4d8e6a1b3c"], env);
    expect(unknownId.code).toBe(1);
    const malformed = await runCli(["deployment", "inspect", "nightly"], env);
    expect(malformed.code).toBe(2);
    expect(lines(malformed.stderr)).toHaveLength(1);
    expect(malformed.stderr).toContain("FLOW/DEPLOYMENT");
  });

  it("names the server it cannot reach", async () => {
    const url = `http://127.0.0.1:${await freePort()}/api`;
    const result = await runCli(["deployment", "inspect", "etl/nightly"], { BATON_API_URL: url });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain(url);
  });
});

describe("baton deployment pause / resume", () => {
  it("pauses (deleting the scheduler's runs) and resumes (filling them again)", async () => {
    const dep = await t.client.request<Deployment>("POST", "/deployments/", { flow_id: flow.id, name: "pausable", schedules: [{ schedule: { cron: "0 * * * *" } }] });
    expect(await autoRuns(dep.id)).toHaveLength(3);
    const paused = await runCli(["deployment", "pause", "etl/pausable"], env);
    expect(paused).toMatchObject({ code: 0, stderr: "", stdout: "Paused deployment etl/pausable.\n" });
    expect((await t.client.request<Deployment>("GET", `/deployments/${dep.id}`)).paused).toBe(true);
    expect(await autoRuns(dep.id)).toEqual([]);
    expect((await runCli(["deployment", "ls"], env)).stdout).toMatch(/etl\/pausable\s+PAUSED/);
    const resumed = await runCli(["deployment", "resume", dep.id], env);
    expect(resumed).toMatchObject({ code: 0, stdout: "Resumed deployment etl/pausable.\n" });
    expect((await t.client.request<Deployment>("GET", `/deployments/${dep.id}`)).paused).toBe(false);
    expect(await autoRuns(dep.id)).toHaveLength(3);
  });

  it("exits 1 for an unknown deployment", async () => {
    const result = await runCli(["deployment", "pause", "etl/ghost"], env);
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual(["error: Deployment etl/ghost not found"]);
  });
});

describe("baton deployment schedule", () => {
  it("adds, lists and removes schedules", async () => {
    const dep = await t.client.request<Deployment>("POST", "/deployments/", { flow_id: flow.id, name: "scheduled" });
    const added = await runCli(
      ["deployment", "schedule", "add", "etl/scheduled", "--cron", "0 9 * * 1-5", "--timezone", "Europe/Berlin", "--slug", "weekdays", "--param", "limit=5", "--param", "mode=full"],
      env,
    );
    expect(added).toMatchObject({ code: 0, stderr: "" });
    expect(added.stdout).toMatch(/^Added schedule [0-9a-f-]{36} \(cron "0 9 \* \* 1-5" \(Europe\/Berlin\)\) to etl\/scheduled\.\n$/);
    const interval = await runCli(["deployment", "schedule", "add", dep.id, "--interval", "900", "--anchor-date", "2026-01-01T00:00:00Z", "--inactive", "--max-scheduled-runs", "4"], env);
    expect(interval.code).toBe(0);
    expect(interval.stdout).toContain("every 15m from");

    const schedules = await schedulesOf(dep.id);
    expect(schedules).toHaveLength(2);
    expect(schedules[0]).toMatchObject({ slug: "weekdays", active: true, parameters: { limit: 5, mode: "full" }, schedule: { cron: "0 9 * * 1-5", timezone: "Europe/Berlin", day_or: true } });
    expect(schedules[1]).toMatchObject({ active: false, max_scheduled_runs: 4, schedule: { interval: 900, anchor_date: "2026-01-01T00:00:00.000Z" } });

    const listed = await runCli(["deployment", "schedule", "ls", "etl/scheduled"], env);
    expect(listed.code).toBe(0);
    const [header, ...rows] = lines(listed.stdout);
    expect(header).toMatch(/^ID\s+SCHEDULE\s+ACTIVE\s+MAX RUNS\s+SLUG\s+PARAMETERS$/);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(/cron "0 9 \* \* 1-5" \(Europe\/Berlin\)\s+yes\s+-\s+weekdays\s+\{"limit":5,"mode":"full"\}/);
    expect(rows[1]).toMatch(/every 15m from .*\s+no\s+4\s+-\s+-$/);
    const json = JSON.parse((await runCli(["deployment", "schedule", "ls", "etl/scheduled", "--json"], env)).stdout) as DeploymentSchedule[];
    expect(json.map((s) => s.id)).toEqual(schedules.map((s) => s.id));

    const removed = await runCli(["deployment", "schedule", "rm", "etl/scheduled", schedules[0]!.id], env);
    expect(removed).toMatchObject({ code: 0, stdout: `Removed schedule ${schedules[0]!.id} from etl/scheduled.\n` });
    expect((await schedulesOf(dep.id)).map((s) => s.id)).toEqual([schedules[1]!.id]);
    const again = await runCli(["deployment", "schedule", "rm", "etl/scheduled", schedules[0]!.id], env);
    expect(again.code).toBe(1);
    expect(lines(again.stderr)).toEqual([`error: Schedule ${schedules[0]!.id} not found`]);
    expect((await runCli(["deployment", "schedule", "ls", "etl/scheduled"], env)).stdout).not.toContain("weekdays");
  });

  it("refuses a call without exactly one kind of schedule (exit 2) and reports what the server refuses (exit 1)", async () => {
    await t.client.request("POST", "/deployments/", { flow_id: flow.id, name: "refusing" });
    for (const args of [[], ["--cron", "0 * * * *", "--interval", "60"], ["--interval", "-5"], ["--cron", "0 * * * *", "--anchor-date", "2026-01-01"], ["--interval", "60", "--param", "novalue"]]) {
      const result = await runCli(["deployment", "schedule", "add", "etl/refusing", ...args], env);
      expect(result.code, args.join(" ")).toBe(2);
      expect(lines(result.stderr), args.join(" ")).toHaveLength(1);
    }
    const badCron = await runCli(["deployment", "schedule", "add", "etl/refusing", "--cron", "61 * * * *"], env);
    expect(badCron.code).toBe(1);
    expect(lines(badCron.stderr)).toHaveLength(1);
    expect(badCron.stderr).toContain("body.0.schedule.cron");
    const badZone = await runCli(["deployment", "schedule", "add", "etl/refusing", "--rrule", "FREQ=DAILY", "--timezone", "Mars/Base"], env);
    expect(badZone.code).toBe(1);
    expect(badZone.stderr).toContain("body.0.schedule.timezone");
    const badId = await runCli(["deployment", "schedule", "rm", "etl/refusing", "not-a-uuid"], env);
    expect(badId.code).toBe(2);
  });
});
