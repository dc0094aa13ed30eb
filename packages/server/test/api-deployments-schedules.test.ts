import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deployment, DeploymentSchedule, FlowRun, WorkQueue } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/**
 * The deployments routes around schedules and runs: schedules CRUD, pause/resume, the
 * runner's poll, work_queue_check, scheduling on request, and the scheduler's immediate fill
 * after a change (the API fills a changed deployment at once, in real time).
 */

interface ValidationError {
  exception_message: string;
  exception_detail: Array<{ loc: Array<string | number>; msg: string }>;
}

// The contract sits beside the repository (../shared/contract/); without it, its checks skip, as in contract.test.ts.
const CONTRACT_PATH = fileURLToPath(new URL("../../../../shared/contract/prefect-rest-api-v3.openapi.json", import.meta.url));
const contract = existsSync(CONTRACT_PATH)
  ? (JSON.parse(readFileSync(CONTRACT_PATH, "utf8")) as { components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> } })
  : undefined;

const HOURLY = { interval: 3600, anchor_date: "2026-01-01T00:00:00Z" };

for (const dialect of DIALECTS) {
  describe(`deployment schedules and runs (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;
    let counter = 0;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "sched-api" })).body.id;
    });
    afterAll(() => server.close());

    async function deployment(body: Record<string, unknown> = {}): Promise<Deployment> {
      const { status, body: dep } = await server.call<Deployment>("POST", "/deployments/", { flow_id: flowId, name: `dep-${counter++}`, ...body });
      expect(status).toBe(201);
      return dep;
    }
    async function runsOf(deploymentId: string): Promise<FlowRun[]> {
      const { body } = await server.call<FlowRun[]>("POST", "/flow_runs/filter", { deployments: { id: { any_: [deploymentId] } }, sort: "EXPECTED_START_TIME_ASC" });
      return body;
    }
    const autoRuns = async (deploymentId: string) => (await runsOf(deploymentId)).filter((r) => r.auto_scheduled);
    const scheduleOf = (run: FlowRun) => run.created_by?.id;

    describe("schedules on a deployment", () => {
      it("lists DeploymentSchedule objects as the contract has them, and fills active ones at once", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY, slug: "hourly" }, { schedule: { cron: "0 9 * * *", timezone: "Europe/Berlin" }, active: false }] });
        const contractSchedule = contract?.components.schemas.DeploymentSchedule;
        for (const schedule of contractSchedule ? dep.schedules : []) {
          for (const key of contractSchedule!.required!) expect(schedule).toHaveProperty(key);
          for (const key of Object.keys(schedule)) expect(contractSchedule!.properties).toHaveProperty(key);
        }
        expect(dep.schedules[0]).toMatchObject({ deployment_id: dep.id, active: true, slug: "hourly", max_scheduled_runs: null, parameters: {}, schedule: { interval: 3600, anchor_date: "2026-01-01T00:00:00.000Z", timezone: null } });
        expect(dep.schedules[1]).toMatchObject({ active: false, schedule: { cron: "0 9 * * *", timezone: "Europe/Berlin", day_or: true } });
        const runs = await autoRuns(dep.id);
        // Three hourly runs reach the scheduler's default hour ahead; the inactive schedule has none.
        expect(runs).toHaveLength(3);
        expect(new Set(runs.map(scheduleOf))).toEqual(new Set([dep.schedules[0]!.id]));
        const listed = await server.call<DeploymentSchedule[]>("GET", `/deployments/${dep.id}/schedules`);
        expect(listed.status).toBe(200);
        expect(listed.body.map((s) => s.id)).toEqual(dep.schedules.map((s) => s.id));
      });

      it("adds schedules (201) and fills only them", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY }] });
        const before = await autoRuns(dep.id);
        const { status, body } = await server.call<DeploymentSchedule[]>("POST", `/deployments/${dep.id}/schedules`, [
          { schedule: { cron: "*/30 * * * *" }, parameters: { x: 1 }, max_scheduled_runs: 2 },
        ]);
        expect(status).toBe(201);
        expect(body).toHaveLength(1);
        expect(body[0]).toMatchObject({ deployment_id: dep.id, active: true, max_scheduled_runs: 2, parameters: { x: 1 } });
        const after = await autoRuns(dep.id);
        expect(after.filter((r) => scheduleOf(r) === body[0]!.id)).toHaveLength(2);
        expect(after.filter((r) => scheduleOf(r) === dep.schedules[0]!.id).map((r) => r.id)).toEqual(before.map((r) => r.id));
        expect((await server.call<Deployment>("GET", `/deployments/${dep.id}`)).body.schedules).toHaveLength(2);
      });

      it("updating a schedule (204) reschedules its runs and leaves the other schedule's alone", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY }, { schedule: { cron: "15 * * * *" } }] });
        const [first, second] = dep.schedules;
        const before = await autoRuns(dep.id);
        const patch = await server.call("PATCH", `/deployments/${dep.id}/schedules/${first!.id}`, { schedule: { cron: "45 * * * *" }, parameters: { p: 2 } });
        expect(patch.status).toBe(204);
        const after = await autoRuns(dep.id);
        const ofFirst = after.filter((r) => scheduleOf(r) === first!.id);
        expect(ofFirst).toHaveLength(3);
        for (const run of ofFirst) {
          expect(new Date(run.next_scheduled_start_time!).getUTCMinutes()).toBe(45);
          expect(run.parameters).toEqual({ p: 2 });
        }
        const secondIds = (runs: FlowRun[]) => runs.filter((r) => scheduleOf(r) === second!.id).map((r) => r.id);
        expect(secondIds(after)).toEqual(secondIds(before));
        // Fields left out keep their value.
        const schedules = (await server.call<DeploymentSchedule[]>("GET", `/deployments/${dep.id}/schedules`)).body;
        expect(schedules[0]).toMatchObject({ active: true, parameters: { p: 2 }, schedule: { cron: "45 * * * *" } });
      });

      it("deactivating a schedule deletes its future runs; deleting it (204) too", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY }, { schedule: { cron: "15 * * * *" } }] });
        const [first, second] = dep.schedules;
        expect((await server.call("PATCH", `/deployments/${dep.id}/schedules/${first!.id}`, { active: false })).status).toBe(204);
        expect((await autoRuns(dep.id)).every((r) => scheduleOf(r) === second!.id)).toBe(true);
        expect((await server.call("DELETE", `/deployments/${dep.id}/schedules/${second!.id}`)).status).toBe(204);
        expect(await autoRuns(dep.id)).toEqual([]);
        expect((await server.call<DeploymentSchedule[]>("GET", `/deployments/${dep.id}/schedules`)).body.map((s) => s.id)).toEqual([first!.id]);
      });

      it("answers 404 for an unknown deployment or schedule", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY }] });
        const unknown = crypto.randomUUID();
        expect((await server.call("GET", `/deployments/${unknown}/schedules`)).status).toBe(404);
        expect((await server.call("POST", `/deployments/${unknown}/schedules`, [{ schedule: HOURLY }])).status).toBe(404);
        expect((await server.call("PATCH", `/deployments/${dep.id}/schedules/${unknown}`, { active: false })).status).toBe(404);
        expect((await server.call("DELETE", `/deployments/${dep.id}/schedules/${unknown}`)).status).toBe(404);
        // A schedule of another deployment is not this one's.
        const other = await deployment({ schedules: [{ schedule: HOURLY }] });
        expect((await server.call("DELETE", `/deployments/${dep.id}/schedules/${other.schedules[0]!.id}`)).status).toBe(404);
      });

      it("refuses bad schedules with a 422 naming the field", async () => {
        const cases: Array<[string, string, unknown, string]> = [
          ["POST", "/deployments/", { flow_id: flowId, name: "bad-cron", schedules: [{ schedule: { cron: "61 * * * *" } }] }, "body.schedules.0.schedule.cron"],
          ["POST", "/deployments/", { flow_id: flowId, name: "bad-tz", schedules: [{ schedule: { cron: "0 0 * * *", timezone: "Mars/Base" } }] }, "body.schedules.0.schedule.timezone"],
          ["POST", "/deployments/", { flow_id: flowId, name: "bad-rrule", schedules: [{ schedule: { rrule: "FREQ=SOMETIMES" } }] }, "body.schedules.0.schedule.rrule"],
          ["POST", "/deployments/", { flow_id: flowId, name: "bad-interval", schedules: [{ schedule: { interval: 0 } }] }, "body.schedules.0.schedule.interval"],
          ["POST", "/deployments/", { flow_id: flowId, name: "no-kind", schedules: [{ schedule: { every: 5 } }] }, "body.schedules.0.schedule"],
        ];
        const dep = await deployment({ schedules: [{ schedule: HOURLY }] });
        cases.push(["POST", `/deployments/${dep.id}/schedules`, [{ schedule: HOURLY }, { schedule: { cron: "0 0 * *" } }], "body.1.schedule.cron"]);
        cases.push(["PATCH", `/deployments/${dep.id}/schedules/${dep.schedules[0]!.id}`, { schedule: { rrule: "DTSTART:2026\nRRULE:FREQ=DAILY" } }, "body.schedule.rrule"]);
        cases.push(["PATCH", `/deployments/${dep.id}`, { schedules: [{ schedule: { cron: "0 0 * * *", timezone: "+02:00" } }] }, "body.schedules.0.schedule.timezone"]);
        cases.push(["POST", `/deployments/${dep.id}/schedules`, [{ schedule: HOURLY, max_scheduled_runs: 0 }], "body.0.max_scheduled_runs"]);
        for (const [method, path, body, field] of cases) {
          const response = await server.call<ValidationError>(method, path, body);
          expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(422);
          expect(response.body.exception_message).toContain(field);
        }
        expect((await server.call<Deployment[]>("POST", "/deployments/filter", { deployments: { name: { any_: ["bad-cron", "bad-tz", "bad-rrule"] } } })).body).toEqual([]);
      });

      it("keeps slugs unique within a deployment", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY, slug: "a" }, { schedule: HOURLY, slug: "b" }] });
        expect((await server.call("POST", `/deployments/${dep.id}/schedules`, [{ schedule: HOURLY, slug: "a" }])).status).toBe(409);
        expect((await server.call("PATCH", `/deployments/${dep.id}/schedules/${dep.schedules[1]!.id}`, { slug: "a" })).status).toBe(409);
        expect((await server.call("PATCH", `/deployments/${dep.id}/schedules/${dep.schedules[0]!.id}`, { slug: "a" })).status).toBe(204);
        const twice = await server.call<ValidationError>("POST", "/deployments/", { flow_id: flowId, name: "slug-twice", schedules: [{ schedule: HOURLY, slug: "x" }, { schedule: HOURLY, slug: "x" }] });
        expect(twice.status).toBe(422);
        expect(twice.body.exception_message).toContain("body.schedules.1.slug");
      });

      it("PATCH schedules take the contract's DeploymentScheduleUpdate: null fields are the defaults", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY }] });
        const patch = await server.call("PATCH", `/deployments/${dep.id}`, { schedules: [{ schedule: { cron: "5 * * * *" }, active: null, parameters: null, max_scheduled_runs: null, slug: null }] });
        expect(patch.status).toBe(204);
        const [only] = (await server.call<DeploymentSchedule[]>("GET", `/deployments/${dep.id}/schedules`)).body;
        expect(only).toMatchObject({ active: true, parameters: {}, max_scheduled_runs: null, slug: null, schedule: { cron: "5 * * * *" } });
        expect(await autoRuns(dep.id)).toHaveLength(3);
        const noSchedule = await server.call<ValidationError>("PATCH", `/deployments/${dep.id}`, { schedules: [{ active: true }] });
        expect(noSchedule.status).toBe(422);
        expect(noSchedule.body.exception_message).toContain("body.schedules.0.schedule");
      });

      it("an upsert replaces the schedules and the runs made from the old ones", async () => {
        const dep = await deployment({ name: "upsert-resched", schedules: [{ schedule: HOURLY }] });
        const old = await autoRuns(dep.id);
        expect(old).toHaveLength(3);
        const again = await server.call<Deployment>("POST", "/deployments/", { flow_id: flowId, name: "upsert-resched", schedules: [{ schedule: { cron: "20 * * * *" } }] });
        expect(again.status).toBe(200);
        const runs = await autoRuns(dep.id);
        expect(runs).toHaveLength(3);
        expect(runs.every((r) => scheduleOf(r) === again.body.schedules[0]!.id)).toBe(true);
        for (const run of old) expect((await server.call("GET", `/flow_runs/${run.id}`)).status).toBe(404);
      });

      it("a change to what runs copy (tags) reschedules them; a description does not", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY }], tags: ["one"] });
        const before = (await autoRuns(dep.id)).map((r) => r.id);
        expect((await server.call("PATCH", `/deployments/${dep.id}`, { description: "words" })).status).toBe(204);
        expect((await autoRuns(dep.id)).map((r) => r.id)).toEqual(before);
        expect((await server.call("PATCH", `/deployments/${dep.id}`, { tags: ["two"] })).status).toBe(204);
        const after = await autoRuns(dep.id);
        expect(after).toHaveLength(3);
        expect(after.some((r) => before.includes(r.id))).toBe(false);
        for (const run of after) expect(run.tags).toContain("two");
      });
    });

    describe("pause and resume", () => {
      it("pausing (200, null) deletes the scheduler's runs but not runs created by hand; resuming fills again", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY }] });
        const manual = (await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, {})).body;
        expect(await autoRuns(dep.id)).toHaveLength(3);
        const pause = await server.call("POST", `/deployments/${dep.id}/pause_deployment`);
        expect(pause).toEqual({ status: 200, body: null });
        expect((await server.call<Deployment>("GET", `/deployments/${dep.id}`)).body.paused).toBe(true);
        expect((await runsOf(dep.id)).map((r) => r.id)).toEqual([manual.id]);
        const resume = await server.call("POST", `/deployments/${dep.id}/resume_deployment`);
        expect(resume).toEqual({ status: 200, body: null });
        expect((await server.call<Deployment>("GET", `/deployments/${dep.id}`)).body.paused).toBe(false);
        expect(await autoRuns(dep.id)).toHaveLength(3);
      });

      it("PATCH paused does the same", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY }] });
        expect((await server.call("PATCH", `/deployments/${dep.id}`, { paused: true })).status).toBe(204);
        expect(await autoRuns(dep.id)).toEqual([]);
        expect((await server.call("PATCH", `/deployments/${dep.id}`, { paused: false })).status).toBe(204);
        expect(await autoRuns(dep.id)).toHaveLength(3);
      });

      it("a paused deployment created with schedules gets no runs; unknown ids are 404", async () => {
        const dep = await deployment({ paused: true, schedules: [{ schedule: HOURLY }] });
        expect(await runsOf(dep.id)).toEqual([]);
        expect((await server.call("POST", `/deployments/${crypto.randomUUID()}/pause_deployment`)).status).toBe(404);
        expect((await server.call("POST", `/deployments/${crypto.randomUUID()}/resume_deployment`)).status).toBe(404);
      });
    });

    describe("get_scheduled_flow_runs", () => {
      it("returns the Scheduled runs of the deployments due before the time, oldest first, and marks them polled", async () => {
        const a = await deployment();
        const b = await deployment();
        const other = await deployment();
        const at = (minutes: number) => new Date(Date.now() + minutes * 60_000).toISOString();
        const create = async (depId: string, minutes: number) =>
          (await server.call<FlowRun>("POST", `/deployments/${depId}/create_flow_run`, { state: { type: "SCHEDULED", state_details: { scheduled_time: at(minutes) } } })).body;
        const late = await create(a.id, -30);
        const soon = await create(b.id, 5);
        const due = await create(a.id, -5);
        await create(a.id, 120);
        await create(other.id, -10);
        const running = await create(b.id, -20);
        await server.call("POST", `/flow_runs/${running.id}/set_state`, { state: { type: "PENDING" } });
        expect(a.status).toBe("NOT_READY");

        const before = Date.now();
        const polled = await server.call<FlowRun[]>("POST", "/deployments/get_scheduled_flow_runs", { deployment_ids: [a.id, b.id], scheduled_before: at(10) });
        expect(polled.status).toBe(200);
        expect(polled.body.map((r) => r.id)).toEqual([late.id, due.id, soon.id]);
        const limited = await server.call<FlowRun[]>("POST", "/deployments/get_scheduled_flow_runs", { deployment_ids: [a.id, b.id], scheduled_before: at(10), limit: 2 });
        expect(limited.body.map((r) => r.id)).toEqual([late.id, due.id]);
        for (const id of [a.id, b.id]) {
          const dep = (await server.call<Deployment>("GET", `/deployments/${id}`)).body;
          expect(dep.status).toBe("READY");
          expect(Date.parse(dep.last_polled!)).toBeGreaterThanOrEqual(before - 1000);
        }
        expect((await server.call<Deployment>("GET", `/deployments/${other.id}`)).body.last_polled).toBeNull();
        // Without a time, every Scheduled run counts.
        const all = await server.call<FlowRun[]>("POST", "/deployments/get_scheduled_flow_runs", { deployment_ids: [a.id] });
        expect(all.body).toHaveLength(3);
      });

      it("validates the body", async () => {
        expect((await server.call("POST", "/deployments/get_scheduled_flow_runs", {})).status).toBe(422);
        const bad = await server.call<ValidationError>("POST", "/deployments/get_scheduled_flow_runs", { deployment_ids: ["nope"] });
        expect(bad.status).toBe(422);
        expect(bad.body.exception_message).toContain("body.deployment_ids.0");
        expect((await server.call<FlowRun[]>("POST", "/deployments/get_scheduled_flow_runs", { deployment_ids: [] })).body).toEqual([]);
      });
    });

    describe("work_queue_check", () => {
      it("is empty without a work pool, else the queue the deployment's runs go to", async () => {
        const none = await deployment();
        expect(await server.call("GET", `/deployments/${none.id}/work_queue_check`)).toEqual({ status: 200, body: [] });
        const pool = await server.call<{ id: string; default_queue_id: string }>("POST", "/work_pools/", { name: `wqc-pool-${dialect}` });
        expect(pool.status).toBe(201);
        const byDefault = await deployment({ work_pool_name: `wqc-pool-${dialect}` });
        expect(byDefault.work_queue_id).toBe(pool.body.default_queue_id);
        const check = await server.call<WorkQueue[]>("GET", `/deployments/${byDefault.id}/work_queue_check`);
        expect(check.body.map((q) => [q.id, q.name, q.work_pool_id])).toEqual([[pool.body.default_queue_id, "default", pool.body.id]]);
        // A queue named for the first time is created in the pool, as Prefect does.
        const named = await deployment({ work_pool_name: `wqc-pool-${dialect}`, work_queue_name: "gpu" });
        const gpu = await server.call<WorkQueue[]>("GET", `/deployments/${named.id}/work_queue_check`);
        expect(gpu.body.map((q) => q.name)).toEqual(["gpu"]);
        expect(named.work_queue_id).toBe(gpu.body[0]!.id);
        expect((await server.call("GET", `/deployments/${crypto.randomUUID()}/work_queue_check`)).status).toBe(404);
      });

      it("refuses a deployment in a work pool that does not exist (404)", async () => {
        const response = await server.call("POST", "/deployments/", { flow_id: flowId, name: "no-pool", work_pool_name: "missing-pool" });
        expect(response.status).toBe(404);
      });
    });

    describe("POST /deployments/{id}/schedule", () => {
      it("schedules the window asked for, backfills included", async () => {
        const dep = await deployment({ schedules: [{ schedule: { interval: 3600, anchor_date: "2025-01-01T00:00:00Z" } }] });
        const before = (await autoRuns(dep.id)).length;
        // As in Prefect, runs are made until both minimums are met, within the window and the maximum.
        const response = await server.call("POST", `/deployments/${dep.id}/schedule`, {
          start_time: "2025-06-01T00:00:00Z",
          end_time: "2025-06-01T05:00:00Z",
          min_runs: 1,
          max_runs: 100,
          min_time: 86_400,
        });
        expect(response).toEqual({ status: 200, body: null });
        const backfill = (await autoRuns(dep.id)).filter((r) => r.next_scheduled_start_time!.startsWith("2025-06-01"));
        expect(backfill.map((r) => r.next_scheduled_start_time)).toEqual([
          "2025-06-01T00:00:00.000Z",
          "2025-06-01T01:00:00.000Z",
          "2025-06-01T02:00:00.000Z",
          "2025-06-01T03:00:00.000Z",
          "2025-06-01T04:00:00.000Z",
          "2025-06-01T05:00:00.000Z",
        ]);
        expect((await autoRuns(dep.id)).length).toBe(before + 6);
        const capped = await server.call("POST", `/deployments/${dep.id}/schedule`, { start_time: "2024-01-01T00:00:00Z", max_runs: 2 });
        expect(capped.status).toBe(200);
        expect((await autoRuns(dep.id)).filter((r) => r.next_scheduled_start_time!.startsWith("2024-01-01"))).toHaveLength(2);
        // The defaults are the scheduler's: three runs, an hour ahead at least.
        await server.call("POST", `/deployments/${dep.id}/schedule`, { start_time: "2023-01-01T00:00:00Z" });
        expect((await autoRuns(dep.id)).filter((r) => r.next_scheduled_start_time!.startsWith("2023-01-01"))).toHaveLength(3);
      });

      it("validates the body and the id", async () => {
        const dep = await deployment({ schedules: [{ schedule: HOURLY }] });
        const backwards = await server.call<ValidationError>("POST", `/deployments/${dep.id}/schedule`, { start_time: "2025-06-02T00:00:00Z", end_time: "2025-06-01T00:00:00Z" });
        expect(backwards.status).toBe(422);
        expect(backwards.body.exception_message).toContain("body.end_time");
        expect((await server.call<ValidationError>("POST", `/deployments/${dep.id}/schedule`, { max_runs: -1 })).body.exception_message).toContain("body.max_runs");
        expect((await server.call("POST", `/deployments/${crypto.randomUUID()}/schedule`, {})).status).toBe(404);
      });
    });
  });
}
