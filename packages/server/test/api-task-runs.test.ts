import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, OrchestrationResult, State, TaskRun } from "@baton/core";
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
    let flowRunId: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "tasks-main" })).body.id;
      flowRunId = (await newFlowRun()).id;
    });
    afterAll(() => server.close());

    async function newFlowRun(body: Record<string, unknown> = {}): Promise<FlowRun> {
      const { status, body: run } = await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, ...body });
      expect(status).toBe(201);
      return run;
    }
    async function newTask(body: Record<string, unknown>): Promise<TaskRun> {
      const { status, body: task } = await server.call<TaskRun>("POST", "/task_runs/", { flow_run_id: flowRunId, dynamic_key: "0", ...body });
      expect(status).toBe(201);
      return task;
    }
    async function read(id: string): Promise<TaskRun> {
      const { status, body } = await server.call<TaskRun>("GET", `/task_runs/${id}`);
      expect(status).toBe(200);
      return body;
    }
    async function setState(id: string, state: Record<string, unknown>, force = false) {
      return server.call<OrchestrationResult>("POST", `/task_runs/${id}/set_state`, { state, force });
    }
    async function accept(id: string, state: Record<string, unknown>): Promise<OrchestrationResult> {
      const result = await setState(id, state);
      expect(result.status).toBe(201);
      expect(result.body.status).toBe("ACCEPT");
      return result.body;
    }

    describe("create, read, update, delete", () => {
      it("creates a task run (201) with a PENDING state and a name from its keys", async () => {
        const task = await newTask({ task_key: "crud-create", dynamic_key: "3" });
        expect(task.flow_run_id).toBe(flowRunId);
        expect(task.task_key).toBe("crud-create");
        expect(task.dynamic_key).toBe("3");
        expect(task.name).toBe("crud-create-3");
        expect(task.state_type).toBe("PENDING");
        expect(task.state_name).toBe("Pending");
        expect(task.state_id).toBe(task.state?.id);
        expect(task.state?.state_details.task_run_id).toBe(task.id);
        expect(task.state?.state_details.flow_run_id).toBe(flowRunId);
        expect(task.run_count).toBe(0);
        expect(task.tags).toEqual([]);
        expect(task.task_inputs).toEqual({});
        expect(task.empirical_policy.max_retries).toBe(0);
      });

      it("keeps what the client sent", async () => {
        const upstream = await newTask({ task_key: "crud-upstream" });
        const expiration = iso(Date.now() + 3600_000);
        const task = await newTask({
          task_key: "crud-full",
          dynamic_key: "k",
          name: "Full Task",
          cache_key: "ck",
          cache_expiration: expiration,
          task_version: "2",
          tags: ["a"],
          labels: { team: "x" },
          empirical_policy: { max_retries: 2, retry_delay_seconds: 1, retry_delay: [1, 2], retry_jitter_factor: 0.5 },
          task_inputs: { x: [{ input_type: "task_run", id: upstream.id }], y: [{ input_type: "parameter", name: "p" }] },
          state: { type: "SCHEDULED" },
        });
        expect(task.name).toBe("Full Task");
        expect(task.cache_key).toBe("ck");
        expect(task.cache_expiration).toBe(expiration);
        expect(task.task_version).toBe("2");
        expect(task.tags).toEqual(["a"]);
        expect(task.labels).toEqual({ team: "x" });
        expect(task.empirical_policy).toMatchObject({ max_retries: 2, retry_delay: [1, 2], retry_jitter_factor: 0.5 });
        expect(task.task_inputs).toEqual({ x: [{ input_type: "task_run", id: upstream.id }], y: [{ input_type: "parameter", name: "p" }] });
        expect(task.state_type).toBe("SCHEDULED");
        expect(await read(task.id)).toEqual({ ...task, estimated_start_time_delta: expect.any(Number) as number });
      });

      it("is idempotent on flow_run_id + task_key + dynamic_key (200, same run)", async () => {
        const first = await newTask({ task_key: "crud-idem", dynamic_key: "0", name: "first" });
        const again = await server.call<TaskRun>("POST", "/task_runs/", { flow_run_id: flowRunId, task_key: "crud-idem", dynamic_key: "0", name: "second" });
        expect(again.status).toBe(200);
        expect(again.body.id).toBe(first.id);
        expect(again.body.name).toBe("first");
        const states = await server.call<State[]>("GET", `/task_run_states/?task_run_id=${first.id}`);
        expect(states.body).toHaveLength(1);

        const otherKey = await newTask({ task_key: "crud-idem", dynamic_key: "1" });
        expect(otherKey.id).not.toBe(first.id);
        const otherRun = await newFlowRun();
        const otherParent = await newTask({ flow_run_id: otherRun.id, task_key: "crud-idem", dynamic_key: "0" });
        expect(otherParent.id).not.toBe(first.id);
      });

      it("returns one run to concurrent identical creates", async () => {
        const results = await Promise.all(
          Array.from({ length: 6 }, () => server.call<TaskRun>("POST", "/task_runs/", { flow_run_id: flowRunId, task_key: "crud-race", dynamic_key: "0" })),
        );
        expect(results.map((r) => r.status).sort()).toEqual([200, 200, 200, 200, 200, 201]);
        expect(new Set(results.map((r) => r.body.id)).size).toBe(1);
      });

      it("creates a task run outside any flow run", async () => {
        const { status, body } = await server.call<TaskRun>("POST", "/task_runs/", { task_key: "crud-orphan", dynamic_key: "0" });
        expect(status).toBe(201);
        expect(body.flow_run_id).toBeNull();
        expect(body.state?.state_details.flow_run_id ?? null).toBeNull();
      });

      it("answers 404 for an unknown flow run or task run", async () => {
        expect((await server.call("POST", "/task_runs/", { flow_run_id: crypto.randomUUID(), task_key: "x", dynamic_key: "0" })).status).toBe(404);
        expect((await server.call("GET", `/task_runs/${crypto.randomUUID()}`)).status).toBe(404);
        expect((await server.call("PATCH", `/task_runs/${crypto.randomUUID()}`, { name: "x" })).status).toBe(404);
        expect((await server.call("DELETE", `/task_runs/${crypto.randomUUID()}`)).status).toBe(404);
      });

      it("patches the name (204)", async () => {
        const task = await newTask({ task_key: "crud-patch" });
        const patch = await server.call("PATCH", `/task_runs/${task.id}`, { name: "renamed" });
        expect(patch.status).toBe(204);
        expect(patch.body).toBeUndefined();
        const after = await read(task.id);
        expect(after.name).toBe("renamed");
        expect(after.task_key).toBe("crud-patch");
        expect(after.state_id).toBe(task.state_id);
      });

      it("deletes (204) with its states; then 404", async () => {
        const task = await newTask({ task_key: "crud-delete" });
        const del = await server.call("DELETE", `/task_runs/${task.id}`);
        expect(del.status).toBe(204);
        expect((await server.call("GET", `/task_runs/${task.id}`)).status).toBe(404);
        expect((await server.call("GET", `/task_run_states/${task.state_id!}`)).status).toBe(404);
        expect((await server.call("DELETE", `/task_runs/${task.id}`)).status).toBe(404);
      });
    });

    describe("filter, sort, count, paginate", () => {
      const tasks: Record<string, TaskRun> = {};
      let parentA: FlowRun;
      let parentB: FlowRun;
      let boundary: string;
      const scope = { flows: { name: { any_: ["tasks-fx"] } } };

      beforeAll(async () => {
        const fx = (await server.call<{ id: string }>("POST", "/flows/", { name: "tasks-fx" })).body.id;
        const dep = await server.call<{ id: string }>("POST", "/deployments/", { name: "tasks-dep", flow_id: fx });
        parentA = await newFlowRun({ flow_id: fx, name: "parent-a", tags: ["pa"] });
        parentB = await newFlowRun({ flow_id: fx, name: "parent-b", deployment_id: dep.body.id });
        tasks.t1 = await newTask({ flow_run_id: parentA.id, task_key: "t1", name: "load-one", tags: ["x", "y"], state: { type: "RUNNING" } });
        await sleep(5);
        tasks.t2 = await newTask({ flow_run_id: parentA.id, task_key: "t2", name: "load-two", tags: ["x"], state: { type: "COMPLETED" } });
        await sleep(5);
        tasks.t3 = await newTask({ flow_run_id: parentB.id, task_key: "t3", name: "save-three", state: { type: "FAILED", name: "Oops" } });
        await sleep(20);
        boundary = iso(Date.now());
        await sleep(20);
        tasks.t4 = await newTask({ flow_run_id: parentB.id, task_key: "t4", name: "save-four", tags: ["y"], state: { type: "RUNNING" } });
        // t4 has a subflow run.
        const child = await newFlowRun({ flow_id: fx, name: "child", parent_task_run_id: tasks.t4.id });
        expect(child.parent_task_run_id).toBe(tasks.t4.id);
      });

      async function names(body: Record<string, unknown>): Promise<string[]> {
        const { status, body: found } = await server.call<TaskRun[]>("POST", "/task_runs/filter", { sort: "NAME_ASC", ...scope, ...body });
        expect(status).toBe(200);
        return found.map((t) => t.name);
      }

      it("sees the fixture", async () => {
        expect(await names({})).toEqual(["load-one", "load-two", "save-four", "save-three"]);
      });

      it("id any_, name any_ / like_", async () => {
        expect(await names({ task_runs: { id: { any_: [tasks.t1!.id, tasks.t3!.id] } } })).toEqual(["load-one", "save-three"]);
        expect(await names({ task_runs: { name: { like_: "LOAD" } } })).toEqual(["load-one", "load-two"]);
        expect(await names({ task_runs: { name: { any_: ["save-four"] } } })).toEqual(["save-four"]);
      });

      it("tags all_ / is_null_", async () => {
        expect(await names({ task_runs: { tags: { all_: ["x", "y"] } } })).toEqual(["load-one"]);
        expect(await names({ task_runs: { tags: { all_: ["y"] } } })).toEqual(["load-one", "save-four"]);
        expect(await names({ task_runs: { tags: { is_null_: true } } })).toEqual(["save-three"]);
      });

      it("state type and name", async () => {
        expect(await names({ task_runs: { state: { type: { any_: ["RUNNING"] } } } })).toEqual(["load-one", "save-four"]);
        expect(await names({ task_runs: { state: { name: { any_: ["Oops"] } } } })).toEqual(["save-three"]);
        expect(await names({ task_runs: { state: { operator: "or_", type: { any_: ["COMPLETED"] }, name: { any_: ["Oops"] } } } })).toEqual([
          "load-two",
          "save-three",
        ]);
      });

      it("start_time, end_time, expected_start_time", async () => {
        expect(await names({ task_runs: { start_time: { before_: boundary } } })).toEqual(["load-one"]);
        expect(await names({ task_runs: { start_time: { after_: boundary } } })).toEqual(["save-four"]);
        expect(await names({ task_runs: { start_time: { is_null_: true } } })).toEqual(["load-two", "save-three"]);
        expect(await names({ task_runs: { end_time: { is_null_: false } } })).toEqual(["load-two", "save-three"]);
        expect(await names({ task_runs: { expected_start_time: { after_: boundary } } })).toEqual(["save-four"]);
        expect(await names({ task_runs: { expected_start_time: { before_: boundary } } })).toEqual(["load-one", "load-two", "save-three"]);
      });

      it("flow_run_id any_ / is_null_, and subflow_runs exists_", async () => {
        expect(await names({ task_runs: { flow_run_id: { any_: [parentB.id] } } })).toEqual(["save-four", "save-three"]);
        expect(await names({ task_runs: { subflow_runs: { exists_: true } } })).toEqual(["save-four"]);
        expect(await names({ task_runs: { subflow_runs: { exists_: false } } })).toEqual(["load-one", "load-two", "save-three"]);
        const orphan = await server.call<TaskRun>("POST", "/task_runs/", { task_key: "fx-orphan", dynamic_key: "0", name: "fx-orphan" });
        const { body } = await server.call<TaskRun[]>("POST", "/task_runs/filter", { task_runs: { flow_run_id: { is_null_: true }, name: { any_: ["fx-orphan"] } } });
        expect(body.map((t) => t.id)).toEqual([orphan.body.id]);
      });

      it("cross filters: by flow run, by deployment", async () => {
        expect(await names({ flow_runs: { name: { any_: ["parent-a"] } } })).toEqual(["load-one", "load-two"]);
        expect(await names({ flow_runs: { tags: { all_: ["pa"] } } })).toEqual(["load-one", "load-two"]);
        expect(await names({ deployments: { name: { any_: ["tasks-dep"] } } })).toEqual(["save-four", "save-three"]);
      });

      it("sorts", async () => {
        const sorted = async (sort: string, extra: Record<string, unknown> = {}) => names({ sort, ...extra });
        expect(await sorted("NAME_DESC")).toEqual(["save-three", "save-four", "load-two", "load-one"]);
        expect(await sorted("ID_DESC")).toEqual(["save-four", "save-three", "load-two", "load-one"]);
        expect(await sorted("EXPECTED_START_TIME_ASC")).toEqual(["load-one", "load-two", "save-three", "save-four"]);
        expect(await sorted("EXPECTED_START_TIME_DESC")).toEqual(["save-four", "save-three", "load-two", "load-one"]);
        expect(await sorted("END_TIME_DESC", { task_runs: { end_time: { is_null_: false } } })).toEqual(["save-three", "load-two"]);
      });

      it("limit, offset, count, paginate", async () => {
        expect(await names({ limit: 1, offset: 1 })).toEqual(["load-two"]);
        const count = await server.call<number>("POST", "/task_runs/count", { ...scope, task_runs: { tags: { all_: ["y"] } } });
        expect(count.status).toBe(200);
        expect(count.body).toBe(2);
        const page = await server.call<Page<TaskRun>>("POST", "/task_runs/paginate", { ...scope, sort: "NAME_ASC", limit: 3, page: 2 });
        expect(page.status).toBe(200);
        expect(page.body).toMatchObject({ count: 4, limit: 3, pages: 2, page: 2 });
        expect(page.body.results.map((t) => t.name)).toEqual(["save-three"]);
      });
    });

    describe("set_state and bookkeeping", () => {
      it("runs a task PENDING -> RUNNING -> COMPLETED with its times and counts", async () => {
        const parent = await newFlowRun();
        expect((await server.call("POST", `/flow_runs/${parent.id}/set_state`, { state: { type: "RUNNING" } })).status).toBe(201);
        const task = await newTask({ flow_run_id: parent.id, task_key: "life" });
        expect(task.start_time).toBeNull();
        expect(task.expected_start_time).not.toBeNull();

        const running = await accept(task.id, { type: "RUNNING" });
        const started = await read(task.id);
        expect(started.state_id).toBe(running.state?.id);
        expect(started.state_type).toBe("RUNNING");
        expect(started.start_time).toBe(running.state?.timestamp);
        expect(started.run_count).toBe(1);
        expect(started.flow_run_run_count).toBe(1);

        await sleep(80);
        const completed = await accept(task.id, { type: "COMPLETED" });
        const done = await read(task.id);
        expect(done.state_type).toBe("COMPLETED");
        expect(done.state_name).toBe("Completed");
        expect(done.end_time).toBe(completed.state?.timestamp);
        expect(done.total_run_time).toBeGreaterThan(0.07);
        expect(done.total_run_time).toBeCloseTo((Date.parse(done.end_time!) - Date.parse(done.start_time!)) / 1000, 2);
        expect(done.estimated_run_time).toBeCloseTo(done.total_run_time, 5);
        expect(done.expected_start_time).toBe(task.expected_start_time);

        const states = await server.call<State[]>("GET", `/task_run_states/?task_run_id=${task.id}`);
        expect(states.body.map((s) => s.type)).toEqual(["PENDING", "RUNNING", "COMPLETED"]);
      });

      it("retries a failed task while it has retries left", async () => {
        const task = await newTask({ task_key: "retry", empirical_policy: { max_retries: 1, retry_delay_seconds: 0 } });
        await accept(task.id, { type: "RUNNING" });
        const failed = await setState(task.id, { type: "FAILED" });
        expect(failed.status).toBe(200);
        expect(failed.body.status).toBe("REJECT");
        expect(failed.body.state?.name).toBe("AwaitingRetry");
        await accept(task.id, { type: "RUNNING" });
        await accept(task.id, { type: "FAILED" });
        const done = await read(task.id);
        expect(done.run_count).toBe(2);
        expect(done.state_type).toBe("FAILED");
      });

      it("aborts a second PENDING and rejects leaving a finished state unless forced", async () => {
        const task = await newTask({ task_key: "rules", state: { type: "SCHEDULED" } });
        await accept(task.id, { type: "PENDING" });
        const again = await setState(task.id, { type: "PENDING" });
        expect(again.status).toBe(200);
        expect(again.body.status).toBe("ABORT");
        await accept(task.id, { type: "RUNNING" });
        await accept(task.id, { type: "COMPLETED" });
        const rejected = await setState(task.id, { type: "CRASHED" });
        expect(rejected.body.status).toBe("REJECT");
        expect((await read(task.id)).state_type).toBe("COMPLETED");
        const forced = await setState(task.id, { type: "CRASHED" }, true);
        expect(forced.status).toBe(201);
        expect((await read(task.id)).state_type).toBe("CRASHED");
      });

      it("answers 404 for an unknown task run", async () => {
        expect((await setState(crypto.randomUUID(), { type: "RUNNING" })).status).toBe(404);
      });
    });
  });
}
