import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deployment, FlowRun } from "@baton/core";
import { createServices, type ServerConfig } from "@baton/server";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

// The API fills a deployment's schedules at once after a change (in real time); here only the
// service under test, on its injected clock, may create runs.
process.env.BATON_SERVER_SERVICES_SCHEDULER_ENABLED = "false";

/** The scheduler's clock in these tests: a fixed time far from the real one. */
const NOW = new Date("2030-01-07T00:00:00.000Z");
const at = (minutes: number) => new Date(NOW.getTime() + minutes * 60_000).toISOString();

type SchedulerSettings = ServerConfig["scheduler"];

for (const dialect of DIALECTS) {
  describe(`scheduler service (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "scheduled-flow" })).body.id;
    });
    afterAll(() => server.close());

    /** One pass of a scheduler whose clock reads `now`, with settings changed as given. */
    async function pass(now: Date = NOW, settings: Partial<SchedulerSettings> = {}): Promise<void> {
      const config: ServerConfig = {
        ...server.config,
        services: { ...server.config.services, scheduler: { enabled: true, loopSeconds: 60 } },
        scheduler: { ...server.config.scheduler, minRuns: 3, maxRuns: 100, minScheduledTimeSeconds: 3600, maxScheduledTimeSeconds: 100 * 86_400, ...settings },
      };
      const [scheduler] = createServices({ db: server.db, config, events: server.events, clock: { now: () => now }, logger: console }, ["scheduler"]);
      expect(scheduler?.name).toBe("scheduler");
      await scheduler!.runOnce();
    }

    async function deployment(name: string, body: Record<string, unknown>): Promise<Deployment> {
      const { status, body: dep } = await server.call<Deployment>("POST", "/deployments/", { flow_id: flowId, name, ...body });
      expect(status).toBe(201);
      return dep;
    }

    async function runsOf(deploymentId: string): Promise<FlowRun[]> {
      const { body } = await server.call<FlowRun[]>("POST", "/flow_runs/filter", {
        deployments: { id: { any_: [deploymentId] } },
        sort: "EXPECTED_START_TIME_ASC",
        limit: 200,
      });
      return body;
    }
    const times = async (deploymentId: string) => (await runsOf(deploymentId)).map((r) => r.next_scheduled_start_time);

    it("fills each schedule until it has the minimum runs and reaches the minimum time ahead", async () => {
      const hourly = await deployment("fill-hourly", { schedules: [{ schedule: { interval: 3600, anchor_date: NOW.toISOString() } }] });
      const everyMinute = await deployment("fill-minutely", { schedules: [{ schedule: { cron: "* * * * *" } }] });
      await pass();
      // Three runs reach an hour ahead for an hourly schedule...
      expect(await times(hourly.id)).toEqual([at(0), at(60), at(120)]);
      // ...while a schedule every minute needs 61 to reach it.
      expect(await runsOf(everyMinute.id)).toHaveLength(61);
    });

    it("never goes beyond the horizon or the maximum number of runs", async () => {
      const daily = await deployment("horizon-daily", { schedules: [{ schedule: { cron: "0 0 * * *" } }] });
      const everyMinute = await deployment("max-minutely", { schedules: [{ schedule: { cron: "* * * * *" } }] });
      await pass(NOW, { maxScheduledTimeSeconds: 7200, maxRuns: 10 });
      expect(await times(daily.id)).toEqual([at(0)]);
      expect(await runsOf(everyMinute.id)).toHaveLength(10);
    });

    it("respects a schedule's max_scheduled_runs, and leaves inactive schedules and paused deployments alone", async () => {
      const capped = await deployment("capped", { schedules: [{ schedule: { cron: "* * * * *" }, max_scheduled_runs: 5 }] });
      const inactive = await deployment("inactive", { schedules: [{ schedule: { cron: "* * * * *" }, active: false }] });
      const paused = await deployment("paused", { paused: true, schedules: [{ schedule: { cron: "* * * * *" } }] });
      await pass();
      await pass();
      expect(await runsOf(capped.id)).toHaveLength(5);
      expect(await runsOf(inactive.id)).toEqual([]);
      expect(await runsOf(paused.id)).toEqual([]);
    });

    it("creates runs as Prefect's scheduler does: auto-scheduled, Scheduled at their time, with the deployment's settings", async () => {
      const pool = await server.call<{ id: string; default_queue_id: string }>("POST", "/work_pools/", { name: "sched-pool" });
      expect(pool.status).toBe(201);
      const dep = await deployment("fields", {
        version: "v9",
        tags: ["nightly"],
        labels: { team: "data" },
        parameters: { source: "s3", limit: 10 },
        job_variables: { image: "etl:1" },
        work_pool_name: "sched-pool",
        schedules: [{ schedule: { interval: 86_400, anchor_date: NOW.toISOString() }, parameters: { limit: 99 }, slug: "daily" }],
      });
      await pass();
      const runs = await runsOf(dep.id);
      expect(runs.length).toBeGreaterThanOrEqual(3);
      const run = runs[0]!;
      const scheduleId = dep.schedules[0]!.id;
      expect(run).toMatchObject({
        flow_id: flowId,
        deployment_id: dep.id,
        deployment_version: "v9",
        auto_scheduled: true,
        state_type: "SCHEDULED",
        state_name: "Scheduled",
        next_scheduled_start_time: at(0),
        expected_start_time: at(0),
        parameters: { source: "s3", limit: 99 },
        job_variables: { image: "etl:1" },
        work_pool_name: "sched-pool",
        work_queue_name: "default",
        work_queue_id: pool.body.default_queue_id,
        idempotency_key: `scheduled ${dep.id} ${scheduleId} ${at(0)}`,
        created_by: { id: scheduleId, type: "SCHEDULE", display_value: "daily" },
      });
      expect([...run.tags].sort()).toEqual(["auto-scheduled", "nightly"]);
      expect(run.labels).toMatchObject({ team: "data", "prefect.deployment.id": dep.id });
      expect(run.state?.state_details.scheduled_time).toBe(at(0));
      expect(run.state?.timestamp).toBe(NOW.toISOString());
      expect(run.name).not.toBe("");
    });

    it("keeps the minimum ahead as time moves on, without touching earlier runs", async () => {
      const dep = await deployment("moving", { schedules: [{ schedule: { interval: 3600, anchor_date: NOW.toISOString() } }] });
      await pass();
      const first = await runsOf(dep.id);
      await pass(new Date(NOW.getTime() + 90 * 60_000));
      const later = await runsOf(dep.id);
      expect(later.map((r) => r.next_scheduled_start_time)).toEqual([at(0), at(60), at(120), at(180), at(240)]);
      expect(later.slice(0, 3).map((r) => r.id)).toEqual(first.map((r) => r.id));
    });

    it("fills every schedule of a deployment, each with its own parameters", async () => {
      const dep = await deployment("two-schedules", {
        parameters: { who: "default" },
        schedules: [
          { schedule: { cron: "0 * * * *" }, parameters: { who: "cron" } },
          { schedule: { interval: 7200, anchor_date: at(30) }, parameters: { who: "interval" } },
        ],
      });
      await pass();
      const runs = await runsOf(dep.id);
      const byWho = (who: string) => runs.filter((r) => r.parameters.who === who).map((r) => r.next_scheduled_start_time);
      expect(byWho("cron")).toEqual([at(0), at(60), at(120)]);
      expect(byWho("interval")).toEqual([at(30), at(150), at(270)]);
    });

    it("reads deployments in batches and reaches all of them", async () => {
      const deps = [];
      for (let i = 0; i < 5; i++) deps.push(await deployment(`batch-${i}`, { schedules: [{ schedule: { cron: "0 * * * *" } }] }));
      await pass(NOW, { deploymentBatchSize: 2, insertBatchSize: 2 });
      for (const dep of deps) expect(await times(dep.id)).toEqual([at(0), at(60), at(120)]);
    });

    it("creates no run twice: two passes, and two schedulers at once, leave one run per slot", async () => {
      const dep = await deployment("idempotent", { schedules: [{ schedule: { cron: "*/10 * * * *" } }] });
      await pass();
      await pass();
      await Promise.all([pass(), pass(), pass()]);
      const runs = await runsOf(dep.id);
      expect(runs.map((r) => r.next_scheduled_start_time)).toEqual([at(0), at(10), at(20), at(30), at(40), at(50), at(60)]);
    });

    it("a schedule change deletes the runs it made stale; the next pass fills the new schedule", async () => {
      const dep = await deployment("changing", { schedules: [{ schedule: { cron: "0 * * * *" } }] });
      await pass();
      const manual = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, { state: { type: "SCHEDULED", state_details: { scheduled_time: at(45) } } });
      expect(manual.status).toBe(201);
      expect(await runsOf(dep.id)).toHaveLength(4);
      expect((await server.call("PATCH", `/deployments/${dep.id}`, { schedules: [{ schedule: { cron: "30 * * * *" } }] })).status).toBe(204);
      // Only the run created by hand is left.
      expect((await runsOf(dep.id)).map((r) => r.id)).toEqual([manual.body.id]);
      await pass();
      expect(await times(dep.id)).toEqual([at(30), at(45), at(90), at(150)]);
    });

    it("pausing deletes the deployment's scheduled runs and the scheduler adds none until it resumes", async () => {
      const dep = await deployment("pausing", { schedules: [{ schedule: { cron: "0 * * * *" } }] });
      await pass();
      expect(await runsOf(dep.id)).toHaveLength(3);
      expect((await server.call("POST", `/deployments/${dep.id}/pause_deployment`)).status).toBe(200);
      expect(await runsOf(dep.id)).toEqual([]);
      await pass();
      expect(await runsOf(dep.id)).toEqual([]);
      expect((await server.call("POST", `/deployments/${dep.id}/resume_deployment`)).status).toBe(200);
      await pass();
      expect(await runsOf(dep.id)).toHaveLength(3);
    });

    it("two scheduler processes on their own connections at once create each run once", async () => {
      const deps: Deployment[] = [];
      for (let i = 0; i < 12; i++) deps.push(await deployment(`race-${i}`, { schedules: [{ schedule: { cron: "* * * * *" } }, { schedule: { interval: 300, anchor_date: NOW.toISOString() } }] }));
      const script = `
        import { createServices, loadConfig, openDatabase } from "@baton/server";
        const [url, schema] = process.argv.slice(1);
        const config = loadConfig({});
        const quiet = () => undefined;
        const logger = { info: quiet, warn: quiet, debug: quiet, error: (...args) => console.error(...args) };
        const db = await openDatabase({ url, schema: schema || undefined, poolSize: 4 });
        config.scheduler = { ...config.scheduler, minRuns: 3, maxRuns: 40, minScheduledTimeSeconds: 3600, maxScheduledTimeSeconds: 86400, deploymentBatchSize: 5, insertBatchSize: 7 };
        const [scheduler] = createServices({ db, config, clock: { now: () => new Date(${JSON.stringify(NOW.toISOString())}) }, logger }, ["scheduler"]);
        for (let i = 0; i < 3; i++) await scheduler.runOnce();
        await db.close();
        console.log("done");`;
      const runChild = () =>
        new Promise<string>((resolve, reject) => {
          const child = spawn(process.execPath, ["--input-type=module", "-e", script, server.config.databaseUrl, server.config.databaseSchema ?? ""], {
            stdio: ["ignore", "pipe", "inherit"],
          });
          let out = "";
          child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
          child.once("exit", (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`scheduler process exited with ${code}`))));
        });
      expect(await Promise.all([runChild(), runChild()])).toEqual(["done", "done"]);
      for (const dep of deps) {
        const runs = await runsOf(dep.id);
        const slots = runs.map((r) => `${r.created_by?.id} ${r.next_scheduled_start_time}`);
        expect(new Set(slots).size).toBe(slots.length);
        // 40 runs every minute (the maximum), 13 every five minutes (to one hour ahead).
        expect(runs).toHaveLength(40 + 13);
      }
    }, 60_000);
  });
}
