import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, HistoryInterval, OrchestrationResult, State, TaskRun } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface Page<T> {
  results: T[];
  count: number;
  limit: number;
  pages: number;
  page: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const iso = (ms: number) => new Date(ms).toISOString();

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let server: TestServer;
    let flowId: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = await newFlow("runs-main");
    });
    afterAll(() => server.close());

    async function newFlow(name: string): Promise<string> {
      const { status, body } = await server.call<{ id: string }>("POST", "/flows/", { name });
      expect(status).toBe(201);
      return body.id;
    }
    async function newRun(body: Record<string, unknown> = {}): Promise<FlowRun> {
      const { status, body: run } = await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, ...body });
      expect(status).toBe(201);
      return run;
    }
    async function read(id: string): Promise<FlowRun> {
      const { status, body } = await server.call<FlowRun>("GET", `/flow_runs/${id}`);
      expect(status).toBe(200);
      return body;
    }
    async function setState(id: string, state: Record<string, unknown>, force = false): Promise<{ status: number; body: OrchestrationResult }> {
      return server.call<OrchestrationResult>("POST", `/flow_runs/${id}/set_state`, { state, force });
    }
    async function accept(id: string, state: Record<string, unknown>): Promise<OrchestrationResult> {
      const result = await setState(id, state);
      expect(result.status).toBe(201);
      expect(result.body.status).toBe("ACCEPT");
      return result.body;
    }

    describe("create and read", () => {
      it("creates a run (201) with defaults: a generated name and a PENDING state", async () => {
        const run = await newRun();
        expect(run.flow_id).toBe(flowId);
        expect(run.name).toMatch(/^[a-z]+-[a-z]+$/);
        expect(run.state_type).toBe("PENDING");
        expect(run.state_name).toBe("Pending");
        expect(run.state?.type).toBe("PENDING");
        expect(run.state?.state_details.flow_run_id).toBe(run.id);
        expect(run.state_id).toBe(run.state?.id);
        expect(run.parameters).toEqual({});
        expect(run.context).toEqual({});
        expect(run.tags).toEqual([]);
        expect(run.labels).toEqual({});
        expect(run.empirical_policy.max_retries).toBe(0);
        expect(run.deployment_id).toBeNull();
        expect(run.idempotency_key).toBeNull();
        expect(run.parent_task_run_id).toBeNull();
        expect(run.run_count).toBe(0);
        expect(run.auto_scheduled).toBe(false);
        expect(await read(run.id)).toEqual({ ...run, estimated_start_time_delta: expect.any(Number) as number });
      });

      it("keeps what the client sent", async () => {
        const id = crypto.randomUUID();
        const run = await newRun({
          id,
          name: "explicit-name",
          flow_version: "1.2.3",
          parameters: { x: 1, nested: { y: [1, 2] } },
          context: { origin: "test" },
          tags: ["t1", "t2"],
          labels: { env: "dev", n: 3, ok: true },
          empirical_policy: { max_retries: 2, retry_delay_seconds: 5 },
          work_queue_name: "wq",
          job_variables: { image: "x" },
          state: { type: "SCHEDULED", name: "Later", message: "soon" },
        });
        expect(run.id).toBe(id);
        expect(run.name).toBe("explicit-name");
        expect(run.flow_version).toBe("1.2.3");
        expect(run.parameters).toEqual({ x: 1, nested: { y: [1, 2] } });
        expect(run.context).toEqual({ origin: "test" });
        expect(run.tags).toEqual(["t1", "t2"]);
        expect(run.labels).toEqual({ env: "dev", n: 3, ok: true });
        expect(run.empirical_policy).toMatchObject({ max_retries: 2, retry_delay_seconds: 5 });
        expect(run.work_queue_name).toBe("wq");
        expect(run.job_variables).toEqual({ image: "x" });
        expect(run.state_type).toBe("SCHEDULED");
        expect(run.state_name).toBe("Later");
        expect(run.state?.message).toBe("soon");
      });

      it("answers 404 for a run of an unknown flow, and for an unknown run", async () => {
        const create = await server.call("POST", "/flow_runs/", { flow_id: crypto.randomUUID() });
        expect(create.status).toBe(404);
        expect((await server.call("GET", `/flow_runs/${crypto.randomUUID()}`)).status).toBe(404);
      });

      it("returns the existing run (200) for a repeated idempotency key of the same flow", async () => {
        const first = await newRun({ idempotency_key: "idem-1", name: "idem-first" });
        const again = await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, idempotency_key: "idem-1", name: "idem-second" });
        expect(again.status).toBe(200);
        expect(again.body.id).toBe(first.id);
        expect(again.body.name).toBe("idem-first");
        expect(again.body.idempotency_key).toBe("idem-1");
        const states = await server.call<State[]>("GET", `/flow_run_states/?flow_run_id=${first.id}`);
        expect(states.body).toHaveLength(1);
        const count = await server.call<number>("POST", "/flow_runs/count", { flow_runs: { idempotency_key: { any_: ["idem-1"] } } });
        expect(count.body).toBe(1);
      });

      it("scopes idempotency keys to a flow", async () => {
        const other = await newFlow("runs-idem-other");
        const first = await newRun({ idempotency_key: "idem-shared" });
        const second = await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: other, idempotency_key: "idem-shared" });
        expect(second.status).toBe(201);
        expect(second.body.id).not.toBe(first.id);
      });

      it("returns one run to concurrent creates with the same idempotency key", async () => {
        const results = await Promise.all(
          Array.from({ length: 8 }, () => server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, idempotency_key: "idem-race" })),
        );
        expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
        expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      });
    });

    describe("update and delete", () => {
      it("patches fields (204) and leaves the others alone", async () => {
        const run = await newRun({ name: "before", tags: ["keep"], parameters: { a: 1 } });
        const patch = await server.call("PATCH", `/flow_runs/${run.id}`, {
          name: "after",
          flow_version: "v9",
          parameters: { b: 2 },
          tags: ["new"],
          infrastructure_pid: "pid-1",
          job_variables: { cpu: 2 },
          empirical_policy: { max_retries: 3, retry_delay_seconds: 1 },
        });
        expect(patch.status).toBe(204);
        expect(patch.body).toBeUndefined();
        const after = await read(run.id);
        expect(after.name).toBe("after");
        expect(after.flow_version).toBe("v9");
        expect(after.parameters).toEqual({ b: 2 });
        expect(after.tags).toEqual(["new"]);
        expect(after.infrastructure_pid).toBe("pid-1");
        expect(after.job_variables).toEqual({ cpu: 2 });
        expect(after.empirical_policy).toMatchObject({ max_retries: 3, retry_delay_seconds: 1 });
        expect(after.state_id).toBe(run.state_id);
        expect(after.flow_id).toBe(flowId);
        expect(Date.parse(after.updated)).toBeGreaterThanOrEqual(Date.parse(run.updated));
      });

      it("an empty patch changes nothing but is still 204", async () => {
        const run = await newRun({ name: "untouched", tags: ["a"] });
        expect((await server.call("PATCH", `/flow_runs/${run.id}`, {})).status).toBe(204);
        const after = await read(run.id);
        expect(after.name).toBe("untouched");
        expect(after.tags).toEqual(["a"]);
      });

      it("answers 404 when patching an unknown run", async () => {
        expect((await server.call("PATCH", `/flow_runs/${crypto.randomUUID()}`, { name: "x" })).status).toBe(404);
      });

      it("deletes a run (204) with its states, task runs and logs; then 404", async () => {
        const run = await newRun();
        await accept(run.id, { type: "RUNNING" });
        const task = await server.call<TaskRun>("POST", "/task_runs/", { flow_run_id: run.id, task_key: "t", dynamic_key: "0" });
        expect(task.status).toBe(201);
        const logs = await server.call("POST", "/logs/", [{ name: "l", level: 20, message: "m", timestamp: iso(Date.now()), flow_run_id: run.id }]);
        expect(logs.status).toBe(201);
        const stateId = run.state_id!;

        const del = await server.call("DELETE", `/flow_runs/${run.id}`);
        expect(del.status).toBe(204);
        expect(del.body).toBeUndefined();
        expect((await server.call("GET", `/flow_runs/${run.id}`)).status).toBe(404);
        expect((await server.call("GET", `/flow_run_states/${stateId}`)).status).toBe(404);
        expect((await server.call("GET", `/task_runs/${task.body.id}`)).status).toBe(404);
        const left = await server.call<unknown[]>("POST", "/logs/filter", { logs: { flow_run_id: { any_: [run.id] } } });
        expect(left.body).toEqual([]);
        expect((await server.call("DELETE", `/flow_runs/${run.id}`)).status).toBe(404);
      });
    });

    describe("filter, sort, count, paginate", () => {
      // Fixture: five runs over two flows, chosen so that each operator selects a different set.
      const runs: Record<string, FlowRun> = {};
      let boundary: string;
      let deploymentId: string;
      let taskRunId: string;
      let scheduledAt: string;
      const scope = { flows: { name: { any_: ["fr-a", "fr-b"] } } };

      beforeAll(async () => {
        const flowA = await newFlow("fr-a");
        const flowB = await newFlow("fr-b");
        const dep = await server.call<{ id: string }>("POST", "/deployments/", { name: "fr-dep", flow_id: flowA });
        expect(dep.status).toBe(201);
        deploymentId = dep.body.id;
        scheduledAt = iso(Date.now() + 3600_000);

        runs.r1 = await newRun({ flow_id: flowA, name: "alpha-one", tags: ["x", "y"], idempotency_key: "k1", flow_version: "1.0", state: { type: "RUNNING" } });
        await sleep(5);
        runs.r2 = await newRun({
          flow_id: flowA,
          name: "alpha-two",
          tags: ["x"],
          idempotency_key: "k2",
          work_queue_name: "wq-fixture",
          state: { type: "SCHEDULED", state_details: { scheduled_time: scheduledAt } },
        });
        await sleep(5);
        runs.r3 = await newRun({ flow_id: flowA, name: "beta-three", idempotency_key: "k3", deployment_id: deploymentId });
        await sleep(5);
        runs.r4 = await newRun({ flow_id: flowB, name: "beta-four", tags: ["y", "z"], idempotency_key: "k4", state: { type: "FAILED", name: "TimedOut" } });
        await sleep(20);
        boundary = iso(Date.now());
        await sleep(20);
        const task = await server.call<TaskRun>("POST", "/task_runs/", { flow_run_id: runs.r1.id, task_key: "special-task", dynamic_key: "0", name: "special-task" });
        expect(task.status).toBe(201);
        taskRunId = task.body.id;
        runs.r5 = await newRun({ flow_id: flowB, name: "gamma-five", idempotency_key: "k5", parent_task_run_id: taskRunId, state: { type: "RUNNING" } });
      });

      async function names(body: Record<string, unknown>): Promise<string[]> {
        const merged = { ...scope, ...body, flows: { ...(body.flows as object | undefined), ...scope.flows } };
        const { status, body: found } = await server.call<FlowRun[]>("POST", "/flow_runs/filter", { sort: "NAME_ASC", ...merged });
        expect(status).toBe(200);
        return found.map((r) => r.name);
      }
      const id = (key: string) => runs[key]!.id;

      it("sees the whole fixture", async () => {
        expect(await names({})).toEqual(["alpha-one", "alpha-two", "beta-four", "beta-three", "gamma-five"]);
      });

      it("id any_ / not_any_", async () => {
        expect(await names({ flow_runs: { id: { any_: [id("r1"), id("r4")] } } })).toEqual(["alpha-one", "beta-four"]);
        expect(await names({ flow_runs: { id: { not_any_: [id("r1"), id("r4")] } } })).toEqual(["alpha-two", "beta-three", "gamma-five"]);
        expect(await names({ flow_runs: { id: { any_: [] } } })).toEqual([]);
      });

      it("name any_ / like_", async () => {
        expect(await names({ flow_runs: { name: { like_: "alpha" } } })).toEqual(["alpha-one", "alpha-two"]);
        expect(await names({ flow_runs: { name: { like_: "ETA-" } } })).toEqual(["beta-four", "beta-three"]);
        expect(await names({ flow_runs: { name: { any_: ["gamma-five", "nope"] } } })).toEqual(["gamma-five"]);
      });

      it("tags all_ / any_ / is_null_", async () => {
        expect(await names({ flow_runs: { tags: { all_: ["x", "y"] } } })).toEqual(["alpha-one"]);
        expect(await names({ flow_runs: { tags: { all_: ["y"] } } })).toEqual(["alpha-one", "beta-four"]);
        expect(await names({ flow_runs: { tags: { any_: ["z", "x"] } } })).toEqual(["alpha-one", "alpha-two", "beta-four"]);
        expect(await names({ flow_runs: { tags: { is_null_: true } } })).toEqual(["beta-three", "gamma-five"]);
        expect(await names({ flow_runs: { tags: { is_null_: false } } })).toEqual(["alpha-one", "alpha-two", "beta-four"]);
      });

      it("state type any_ / not_any_ and state name any_ / not_any_", async () => {
        expect(await names({ flow_runs: { state: { type: { any_: ["RUNNING"] } } } })).toEqual(["alpha-one", "gamma-five"]);
        expect(await names({ flow_runs: { state: { type: { not_any_: ["RUNNING", "SCHEDULED"] } } } })).toEqual(["beta-four", "beta-three"]);
        expect(await names({ flow_runs: { state: { name: { any_: ["TimedOut"] } } } })).toEqual(["beta-four"]);
        expect(await names({ flow_runs: { state: { name: { not_any_: ["Running", "TimedOut"] } } } })).toEqual(["alpha-two", "beta-three"]);
        expect(await names({ flow_runs: { state: { type: { any_: ["FAILED"] }, name: { any_: ["Failed"] } } } })).toEqual([]);
      });

      it("start_time before_ / after_ / is_null_", async () => {
        expect(await names({ flow_runs: { start_time: { before_: boundary } } })).toEqual(["alpha-one"]);
        expect(await names({ flow_runs: { start_time: { after_: boundary } } })).toEqual(["gamma-five"]);
        expect(await names({ flow_runs: { start_time: { is_null_: true } } })).toEqual(["alpha-two", "beta-four", "beta-three"]);
        expect(await names({ flow_runs: { start_time: { is_null_: false } } })).toEqual(["alpha-one", "gamma-five"]);
        expect(await names({ flow_runs: { start_time: { after_: runs.r1!.start_time, before_: boundary } } })).toEqual(["alpha-one"]);
      });

      it("accepts before_/after_ with any offset and compares instants", async () => {
        const shifted = new Date(Date.parse(boundary)).toISOString().replace("Z", "+00:00");
        expect(await names({ flow_runs: { start_time: { before_: shifted } } })).toEqual(["alpha-one"]);
        const plusTwo = new Date(Date.parse(boundary) + 2 * 3600_000).toISOString().replace("Z", "+02:00");
        expect(await names({ flow_runs: { start_time: { before_: plusTwo } } })).toEqual(["alpha-one"]);
      });

      it("expected_start_time before_ / after_", async () => {
        const halfHour = iso(Date.now() + 1800_000);
        expect(await names({ flow_runs: { expected_start_time: { after_: halfHour } } })).toEqual(["alpha-two"]);
        expect(await names({ flow_runs: { expected_start_time: { before_: halfHour } } })).toEqual(["alpha-one", "beta-four", "beta-three", "gamma-five"]);
        expect(await names({ flow_runs: { expected_start_time: { after_: boundary, before_: halfHour } } })).toEqual(["gamma-five"]);
      });

      it("next_scheduled_start_time and end_time", async () => {
        expect(await names({ flow_runs: { next_scheduled_start_time: { after_: boundary } } })).toEqual(["alpha-two"]);
        expect(await names({ flow_runs: { end_time: { is_null_: false } } })).toEqual(["beta-four"]);
        expect(await names({ flow_runs: { end_time: { before_: boundary } } })).toEqual(["beta-four"]);
      });

      it("deployment_id any_ / is_null_", async () => {
        expect(await names({ flow_runs: { deployment_id: { is_null_: false } } })).toEqual(["beta-three"]);
        expect(await names({ flow_runs: { deployment_id: { is_null_: true } } })).toEqual(["alpha-one", "alpha-two", "beta-four", "gamma-five"]);
        expect(await names({ flow_runs: { deployment_id: { any_: [deploymentId] } } })).toEqual(["beta-three"]);
      });

      it("parent_task_run_id any_ / is_null_, and parent_flow_run_id", async () => {
        expect(await names({ flow_runs: { parent_task_run_id: { any_: [taskRunId] } } })).toEqual(["gamma-five"]);
        expect(await names({ flow_runs: { parent_task_run_id: { is_null_: false } } })).toEqual(["gamma-five"]);
        expect(await names({ flow_runs: { parent_task_run_id: { is_null_: true } } })).toEqual(["alpha-one", "alpha-two", "beta-four", "beta-three"]);
        expect(await names({ flow_runs: { parent_flow_run_id: { any_: [id("r1")] } } })).toEqual(["gamma-five"]);
      });

      it("idempotency_key any_ / not_any_", async () => {
        expect(await names({ flow_runs: { idempotency_key: { any_: ["k2", "k4"] } } })).toEqual(["alpha-two", "beta-four"]);
        expect(await names({ flow_runs: { idempotency_key: { not_any_: ["k1", "k2"] } } })).toEqual(["beta-four", "beta-three", "gamma-five"]);
      });

      it("work_queue_name and flow_version", async () => {
        expect(await names({ flow_runs: { work_queue_name: { any_: ["wq-fixture"] } } })).toEqual(["alpha-two"]);
        expect(await names({ flow_runs: { work_queue_name: { is_null_: false } } })).toEqual(["alpha-two"]);
        expect(await names({ flow_runs: { flow_version: { any_: ["1.0"] } } })).toEqual(["alpha-one"]);
      });

      it("nested operator or_ at each level", async () => {
        expect(await names({ flow_runs: { operator: "or_", name: { like_: "gamma" }, tags: { all_: ["z"] } } })).toEqual(["beta-four", "gamma-five"]);
        expect(await names({ flow_runs: { name: { like_: "gamma" }, tags: { all_: ["z"] } } })).toEqual([]);
        expect(await names({ flow_runs: { state: { operator: "or_", type: { any_: ["PENDING"] }, name: { any_: ["TimedOut"] } } } })).toEqual([
          "beta-four",
          "beta-three",
        ]);
        expect(await names({ flow_runs: { tags: { operator: "or_", all_: ["z"], is_null_: true } } })).toEqual(["beta-four", "beta-three", "gamma-five"]);
        expect(
          await names({ flow_runs: { operator: "or_", deployment_id: { is_null_: false }, parent_task_run_id: { is_null_: false }, id: { any_: [id("r1")] } } }),
        ).toEqual(["alpha-one", "beta-three", "gamma-five"]);
      });

      it("cross filters: by flow name, by task runs, by deployment", async () => {
        const { body } = await server.call<FlowRun[]>("POST", "/flow_runs/filter", { flows: { name: { like_: "fr-b" } }, sort: "NAME_ASC" });
        expect(body.map((r) => r.name)).toEqual(["beta-four", "gamma-five"]);
        expect(await names({ task_runs: { name: { any_: ["special-task"] } } })).toEqual(["alpha-one"]);
        expect(await names({ task_runs: { id: { any_: [taskRunId] } } })).toEqual(["alpha-one"]);
        expect(await names({ deployments: { name: { any_: ["fr-dep"] } } })).toEqual(["beta-three"]);
        const both = await server.call<FlowRun[]>("POST", "/flow_runs/filter", { flows: { name: { any_: ["fr-a"] } }, flow_runs: { tags: { any_: ["y"] } } });
        expect(both.body.map((r) => r.name)).toEqual(["alpha-one"]);
      });

      it("sorts by every FlowRunSort value", async () => {
        const sorted = async (sort: string) => {
          const { status, body } = await server.call<FlowRun[]>("POST", "/flow_runs/filter", { ...scope, sort });
          expect(status).toBe(200);
          return body.map((r) => r.name);
        };
        expect(await sorted("NAME_ASC")).toEqual(["alpha-one", "alpha-two", "beta-four", "beta-three", "gamma-five"]);
        expect(await sorted("NAME_DESC")).toEqual(["gamma-five", "beta-three", "beta-four", "alpha-two", "alpha-one"]);
        // Ids are time-ordered, so ID_DESC (the default) lists the newest first.
        expect(await sorted("ID_DESC")).toEqual(["gamma-five", "beta-four", "beta-three", "alpha-two", "alpha-one"]);
        const { body: byDefault } = await server.call<FlowRun[]>("POST", "/flow_runs/filter", scope);
        expect(byDefault.map((r) => r.name)).toEqual(["gamma-five", "beta-four", "beta-three", "alpha-two", "alpha-one"]);
        expect(await sorted("EXPECTED_START_TIME_ASC")).toEqual(["alpha-one", "beta-three", "beta-four", "gamma-five", "alpha-two"]);
        expect(await sorted("EXPECTED_START_TIME_DESC")).toEqual(["alpha-two", "gamma-five", "beta-four", "beta-three", "alpha-one"]);
        // START_TIME sorts on the start time, or the expected start time for runs not started.
        expect(await sorted("START_TIME_ASC")).toEqual(["alpha-one", "beta-three", "beta-four", "gamma-five", "alpha-two"]);
        expect(await sorted("START_TIME_DESC")).toEqual(["alpha-two", "gamma-five", "beta-four", "beta-three", "alpha-one"]);
      });

      it("END_TIME_DESC lists the latest finished run first", async () => {
        const late = await newRun({ flow_id: runs.r4!.flow_id, name: "omega-late", state: { type: "COMPLETED" } });
        const { body } = await server.call<FlowRun[]>("POST", "/flow_runs/filter", { ...scope, flow_runs: { end_time: { is_null_: false } }, sort: "END_TIME_DESC" });
        expect(body.map((r) => r.name)).toEqual(["omega-late", "beta-four"]);
        expect((await server.call("DELETE", `/flow_runs/${late.id}`)).status).toBe(204);
      });

      // PostgreSQL (and so Prefect) sorts NULLs last in ascending order; SQLite sorts them first
      // unless told otherwise. Baton should answer the same on both.
      it("NEXT_SCHEDULED_START_TIME_ASC puts the scheduled run first, on both databases alike", async () => {
        const { body } = await server.call<FlowRun[]>("POST", "/flow_runs/filter", { ...scope, sort: "NEXT_SCHEDULED_START_TIME_ASC" });
        expect(body).toHaveLength(5);
        expect(body[0]?.name).toBe("alpha-two");
      });

      it("limit and offset", async () => {
        expect(await names({ limit: 2 })).toEqual(["alpha-one", "alpha-two"]);
        expect(await names({ limit: 2, offset: 2 })).toEqual(["beta-four", "beta-three"]);
        expect(await names({ offset: 4 })).toEqual(["gamma-five"]);
        expect(await names({ offset: 5 })).toEqual([]);
        expect(await names({ limit: 0 })).toEqual([]);
      });

      it("counts with the same criteria", async () => {
        const count = async (body: Record<string, unknown>) => {
          const { status, body: n } = await server.call<number>("POST", "/flow_runs/count", body);
          expect(status).toBe(200);
          return n;
        };
        expect(await count(scope)).toBe(5);
        expect(await count({ ...scope, flow_runs: { state: { type: { any_: ["RUNNING"] } } } })).toBe(2);
        expect(await count({ ...scope, flow_runs: { operator: "or_", name: { like_: "gamma" }, tags: { all_: ["z"] } } })).toBe(2);
        expect(await count({ flows: { name: { any_: ["fr-b"] } } })).toBe(2);
        expect(await count({ ...scope, task_runs: { name: { any_: ["special-task"] } } })).toBe(1);
      });

      it("paginates", async () => {
        const page = async (body: Record<string, unknown>) => {
          const { status, body: p } = await server.call<Page<FlowRun>>("POST", "/flow_runs/paginate", { ...scope, sort: "NAME_ASC", ...body });
          expect(status).toBe(200);
          return p;
        };
        const first = await page({ limit: 2 });
        expect(first).toMatchObject({ count: 5, limit: 2, pages: 3, page: 1 });
        expect(first.results.map((r) => r.name)).toEqual(["alpha-one", "alpha-two"]);
        const second = await page({ limit: 2, page: 2 });
        expect(second.page).toBe(2);
        expect(second.results.map((r) => r.name)).toEqual(["beta-four", "beta-three"]);
        const last = await page({ limit: 2, page: 3 });
        expect(last.results.map((r) => r.name)).toEqual(["gamma-five"]);
        const filtered = await page({ flow_runs: { tags: { any_: ["x"] } }, limit: 10 });
        expect(filtered).toMatchObject({ count: 2, pages: 1, page: 1, limit: 10 });
        expect(filtered.results.map((r) => r.name)).toEqual(["alpha-one", "alpha-two"]);
        const beyond = await page({ limit: 2, page: 9 });
        expect(beyond.results).toEqual([]);
        expect(beyond.count).toBe(5);
      });
    });

    describe("history", () => {
      it("counts runs per state in buckets of expected start time", async () => {
        const flow = await newFlow("runs-history");
        const base = Date.UTC(2031, 0, 1, 0, 0, 0);
        const at = (minutes: number) => ({ type: "SCHEDULED", state_details: { scheduled_time: iso(base + minutes * 60_000) } });
        await newRun({ flow_id: flow, state: at(10) });
        await newRun({ flow_id: flow, state: at(20) });
        await newRun({ flow_id: flow, state: { ...at(30), name: "Late" } });
        await newRun({ flow_id: flow, state: at(90) });
        await newRun({ flow_id: flow, state: at(400) });
        const { status, body } = await server.call<HistoryInterval[]>("POST", "/flow_runs/history", {
          flows: { name: { any_: ["runs-history"] } },
          history_start: iso(base),
          history_end: iso(base + 3 * 3600_000),
          history_interval_seconds: 3600,
        });
        expect(status).toBe(200);
        expect(body).toHaveLength(3);
        expect(body.map((b) => b.interval_start)).toEqual([iso(base), iso(base + 3600_000), iso(base + 7200_000)]);
        expect(body.map((b) => b.interval_end)).toEqual([iso(base + 3600_000), iso(base + 7200_000), iso(base + 3 * 3600_000)]);
        expect(body[0]?.states.map((s) => [s.state_type, s.state_name, s.count_runs])).toEqual([
          ["SCHEDULED", "Late", 1],
          ["SCHEDULED", "Scheduled", 2],
        ]);
        expect(body[1]?.states.map((s) => [s.state_type, s.state_name, s.count_runs])).toEqual([["SCHEDULED", "Scheduled", 1]]);
        expect(body[2]?.states).toEqual([]);
      });

      it("refuses an end before the start (422 naming history_end)", async () => {
        const { status, body } = await server.call<{ exception_message: string }>("POST", "/flow_runs/history", {
          history_start: iso(Date.UTC(2030, 0, 2)),
          history_end: iso(Date.UTC(2030, 0, 1)),
          history_interval_seconds: 60,
        });
        expect(status).toBe(422);
        expect(body.exception_message).toContain("history_end");
      });
    });

    describe("set_state", () => {
      it("accepts a transition (201) and makes it the run's state", async () => {
        const run = await newRun();
        const result = await setState(run.id, { type: "RUNNING", message: "go", data: null });
        expect(result.status).toBe(201);
        expect(result.body.status).toBe("ACCEPT");
        expect(result.body.details).toEqual({ type: "accept_details" });
        expect(result.body.state?.type).toBe("RUNNING");
        expect(result.body.state?.name).toBe("Running");
        expect(result.body.state?.message).toBe("go");
        expect(result.body.state?.state_details.flow_run_id).toBe(run.id);
        const after = await read(run.id);
        expect(after.state_id).toBe(result.body.state?.id);
        expect(after.state?.id).toBe(result.body.state?.id);
        expect(after.state_type).toBe("RUNNING");
      });

      it("keeps a custom state name and data", async () => {
        const run = await newRun();
        await accept(run.id, { type: "RUNNING" });
        const done = await accept(run.id, { type: "COMPLETED", name: "Finished", data: { type: "unpersisted" } });
        expect(done.state?.name).toBe("Finished");
        const after = await read(run.id);
        expect(after.state_name).toBe("Finished");
        expect(after.state?.data).toEqual({ type: "unpersisted" });
      });

      it("aborts a second claim (200, ABORT) and keeps the state", async () => {
        const run = await newRun({ state: { type: "SCHEDULED" } });
        await accept(run.id, { type: "PENDING" });
        const again = await setState(run.id, { type: "PENDING" });
        expect(again.status).toBe(200);
        expect(again.body.status).toBe("ABORT");
        expect(again.body.details.type).toBe("abort_details");
        expect((await read(run.id)).state_type).toBe("PENDING");
      });

      it("rejects moving a finished run to CANCELLING (200, REJECT) unless forced", async () => {
        const run = await newRun();
        await accept(run.id, { type: "RUNNING" });
        const done = await accept(run.id, { type: "COMPLETED" });
        const rejected = await setState(run.id, { type: "CANCELLING" });
        expect(rejected.status).toBe(200);
        expect(rejected.body.status).toBe("REJECT");
        expect(rejected.body.details.type).toBe("reject_details");
        expect(rejected.body.state?.id).toBe(done.state?.id);
        expect((await read(run.id)).state_type).toBe("COMPLETED");
        const forced = await setState(run.id, { type: "CANCELLING" }, true);
        expect(forced.status).toBe(201);
        expect(forced.body.status).toBe("ACCEPT");
        expect((await read(run.id)).state_type).toBe("CANCELLING");
      });

      it("tells a client to WAIT before a future scheduled time", async () => {
        const run = await newRun({ state: { type: "SCHEDULED", state_details: { scheduled_time: iso(Date.now() + 120_000) } } });
        const wait = await setState(run.id, { type: "RUNNING" });
        expect(wait.status).toBe(200);
        expect(wait.body.status).toBe("WAIT");
        const details = wait.body.details as { type: string; delay_seconds: number };
        expect(details.type).toBe("wait_details");
        expect(details.delay_seconds).toBeGreaterThan(100);
        expect(details.delay_seconds).toBeLessThanOrEqual(120);
        expect((await read(run.id)).state_type).toBe("SCHEDULED");
      });

      it("answers 404 for an unknown run", async () => {
        expect((await setState(crypto.randomUUID(), { type: "RUNNING" })).status).toBe(404);
      });
    });

    describe("bulk_delete", () => {
      it("deletes the runs a filter matches and returns their ids", async () => {
        const flow = await newFlow("runs-bulk");
        const a = await newRun({ flow_id: flow, tags: ["bulk"] });
        const b = await newRun({ flow_id: flow, tags: ["bulk"] });
        const keep = await newRun({ flow_id: flow, tags: ["keep"] });
        const { status, body } = await server.call<{ deleted: string[] }>("POST", "/flow_runs/bulk_delete", { flow_runs: { tags: { all_: ["bulk"] } } });
        expect(status).toBe(200);
        expect([...body.deleted].sort()).toEqual([a.id, b.id].sort());
        expect((await server.call("GET", `/flow_runs/${a.id}`)).status).toBe(404);
        expect((await server.call("GET", `/flow_runs/${b.id}`)).status).toBe(404);
        expect((await server.call("GET", `/flow_runs/${keep.id}`)).status).toBe(200);
      });

      it("deletes at most `limit` runs", async () => {
        const flow = await newFlow("runs-bulk-limit");
        for (let i = 0; i < 3; i++) await newRun({ flow_id: flow, tags: ["bulk-limit"] });
        const first = await server.call<{ deleted: string[] }>("POST", "/flow_runs/bulk_delete", { flow_runs: { tags: { all_: ["bulk-limit"] } }, limit: 2 });
        expect(first.status).toBe(200);
        expect(first.body.deleted).toHaveLength(2);
        const left = await server.call<number>("POST", "/flow_runs/count", { flow_runs: { tags: { all_: ["bulk-limit"] } } });
        expect(left.body).toBe(1);
      });

      it("deletes nothing when nothing matches", async () => {
        const { status, body } = await server.call<{ deleted: string[] }>("POST", "/flow_runs/bulk_delete", { flow_runs: { name: { any_: ["no-such-run"] } } });
        expect(status).toBe(200);
        expect(body.deleted).toEqual([]);
      });
    });

    describe("bookkeeping", () => {
      it("tracks a run through PENDING -> RUNNING -> COMPLETED", async () => {
        const before = Date.now();
        const run = await newRun();
        expect(run.state_type).toBe("PENDING");
        expect(run.state_name).toBe("Pending");
        expect(run.start_time).toBeNull();
        expect(run.end_time).toBeNull();
        expect(run.run_count).toBe(0);
        expect(run.total_run_time).toBe(0);
        expect(run.estimated_run_time).toBe(0);
        expect(run.next_scheduled_start_time).toBeNull();
        expect(run.expected_start_time).not.toBeNull();
        expect(Date.parse(run.expected_start_time!)).toBeGreaterThanOrEqual(before - 1000);
        expect(Date.parse(run.expected_start_time!)).toBeLessThanOrEqual(Date.now() + 1000);

        const running = await accept(run.id, { type: "RUNNING" });
        const started = await read(run.id);
        expect(started.state_id).toBe(running.state?.id);
        expect(started.state_type).toBe("RUNNING");
        expect(started.state_name).toBe("Running");
        expect(started.start_time).toBe(running.state?.timestamp);
        expect(started.run_count).toBe(1);
        expect(started.end_time).toBeNull();
        expect(started.expected_start_time).toBe(run.expected_start_time);

        await sleep(120);
        const midway = await read(run.id);
        expect(midway.estimated_run_time).toBeGreaterThan(0.05);
        expect(midway.total_run_time).toBe(0);

        const completed = await accept(run.id, { type: "COMPLETED" });
        const done = await read(run.id);
        expect(done.state_id).toBe(completed.state?.id);
        expect(done.state_type).toBe("COMPLETED");
        expect(done.state_name).toBe("Completed");
        expect(done.end_time).toBe(completed.state?.timestamp);
        expect(done.start_time).toBe(started.start_time);
        expect(done.run_count).toBe(1);
        const wall = (Date.parse(done.end_time!) - Date.parse(done.start_time!)) / 1000;
        expect(done.total_run_time).toBeGreaterThan(0.1);
        expect(done.total_run_time).toBeCloseTo(wall, 2);
        expect(done.estimated_run_time).toBeCloseTo(done.total_run_time, 5);
        expect(done.expected_start_time).toBe(run.expected_start_time);
        expect(done.next_scheduled_start_time).toBeNull();
      });

      it("sets expected and next scheduled start times from a future SCHEDULED state, then clears the next one", async () => {
        const scheduled = iso(Date.now() + 600_000);
        const run = await newRun({ state: { type: "SCHEDULED", state_details: { scheduled_time: scheduled } } });
        expect(run.state_type).toBe("SCHEDULED");
        expect(run.state?.state_details.scheduled_time).toBe(scheduled);
        expect(run.next_scheduled_start_time).toBe(scheduled);
        expect(run.expected_start_time).toBe(scheduled);
        expect(run.start_time).toBeNull();
        expect(run.estimated_start_time_delta).toBe(0);

        const pending = await accept(run.id, { type: "PENDING" });
        expect(pending.state?.state_details.scheduled_time).toBe(scheduled);
        const after = await read(run.id);
        expect(after.next_scheduled_start_time).toBeNull();
        expect(after.expected_start_time).toBe(scheduled);
      });

      it("a SCHEDULED state without a time is scheduled for now", async () => {
        const before = Date.now();
        const run = await newRun({ state: { type: "SCHEDULED" } });
        expect(run.next_scheduled_start_time).not.toBeNull();
        expect(Date.parse(run.next_scheduled_start_time!)).toBeGreaterThanOrEqual(before - 1000);
        expect(run.next_scheduled_start_time).toBe(run.expected_start_time);
      });

      it("counts attempts and accumulates run time over a retry", async () => {
        const run = await newRun({ empirical_policy: { max_retries: 1, retry_delay_seconds: 0 } });
        await accept(run.id, { type: "RUNNING" });
        await sleep(60);
        const failed = await setState(run.id, { type: "FAILED" });
        expect(failed.body.status).toBe("REJECT");
        expect(failed.body.state?.type).toBe("SCHEDULED");
        expect(failed.body.state?.name).toBe("AwaitingRetry");
        const waiting = await read(run.id);
        expect(waiting.state_name).toBe("AwaitingRetry");
        expect(waiting.run_count).toBe(1);
        expect(waiting.end_time).toBeNull();
        const firstAttempt = waiting.total_run_time;
        expect(firstAttempt).toBeGreaterThan(0.04);

        await accept(run.id, { type: "RUNNING" });
        await sleep(60);
        await accept(run.id, { type: "FAILED" });
        const finished = await read(run.id);
        expect(finished.run_count).toBe(2);
        expect(finished.state_type).toBe("FAILED");
        expect(finished.end_time).not.toBeNull();
        expect(finished.start_time).toBe(waiting.start_time);
        expect(finished.total_run_time).toBeGreaterThan(firstAttempt + 0.04);
      });

      it("resuming from PAUSED continues the same attempt", async () => {
        const run = await newRun();
        await accept(run.id, { type: "RUNNING" });
        await accept(run.id, { type: "PAUSED" });
        await accept(run.id, { type: "RUNNING" });
        expect((await read(run.id)).run_count).toBe(1);
      });

      it("states of the run are listed in order with the current one last", async () => {
        const run = await newRun({ state: { type: "SCHEDULED" } });
        await accept(run.id, { type: "PENDING" });
        await accept(run.id, { type: "RUNNING" });
        const done = await accept(run.id, { type: "COMPLETED" });
        const { body } = await server.call<State[]>("GET", `/flow_run_states/?flow_run_id=${run.id}`);
        expect(body.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]);
        expect(body.at(-1)?.id).toBe(done.state?.id);
      });
    });
  });
}
