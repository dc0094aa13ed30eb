import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Flow, FlowRun, TaskRun } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/**
 * The routes of the core contract beside the resources' basic ones: flow run labels,
 * lateness, bulk state changes, graphs and log downloads; flows deleted in bulk; task run
 * history; saved searches; collection views; admin settings.
 */
for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    async function flowNamed(name: string): Promise<Flow> {
      return (await server.call<Flow>("POST", "/flows/", { name })).body;
    }
    async function flowRun(flowName: string, body: Record<string, unknown> = {}): Promise<FlowRun> {
      const flow = await flowNamed(flowName);
      const { status, body: run } = await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flow.id, ...body });
      expect(status).toBe(201);
      return run;
    }
    async function taskRun(body: Record<string, unknown>): Promise<TaskRun> {
      const { status, body: run } = await server.call<TaskRun>("POST", "/task_runs/", { dynamic_key: crypto.randomUUID(), ...body });
      expect(status).toBe(201);
      return run;
    }

    describe("PATCH /flow_runs/{id}/labels", () => {
      it("merges the labels into the run's labels", async () => {
        const run = await flowRun("labels-flow", { labels: { team: "data", tier: 1 } });
        expect((await server.call("PATCH", `/flow_runs/${run.id}/labels`, { tier: 2, owner: "ada" })).status).toBe(204);
        const { body } = await server.call<FlowRun>("GET", `/flow_runs/${run.id}`);
        expect(body.labels).toEqual({ team: "data", tier: 2, owner: "ada" });
      });
      it("answers 404 for an unknown run and 422 for labels that are not an object of scalars", async () => {
        expect((await server.call("PATCH", `/flow_runs/${crypto.randomUUID()}/labels`, { a: "b" })).status).toBe(404);
        const run = await flowRun("labels-flow");
        const bad = await server.call<{ exception_message: string }>("PATCH", `/flow_runs/${run.id}/labels`, { nested: { no: true } });
        expect(bad.status).toBe(422);
        expect(bad.body.exception_message).toContain("body.nested");
      });
    });

    describe("POST /flow_runs/lateness", () => {
      it("averages how late the matching runs are, and is null when none match", async () => {
        const past = new Date(Date.now() - 120_000).toISOString();
        const late = await flowRun("lateness-flow", { state: { type: "SCHEDULED", state_details: { scheduled_time: past } } });
        const onTime = await flowRun("lateness-flow", { state: { type: "SCHEDULED", state_details: { scheduled_time: new Date(Date.now() + 3_600_000).toISOString() } } });
        const both = await server.call<number>("POST", "/flow_runs/lateness", { flow_runs: { id: { any_: [late.id, onTime.id] } } });
        expect(both.status).toBe(200);
        // One run two minutes late and one not late at all: about a minute on average.
        expect(both.body).toBeGreaterThanOrEqual(59);
        expect(both.body).toBeLessThan(90);
        const none = await server.call("POST", "/flow_runs/lateness", { flow_runs: { id: { any_: [crypto.randomUUID()] } } });
        expect(none.body).toBeNull();
      });
    });

    describe("POST /flow_runs/bulk_set_state", () => {
      it("proposes the state to each matching run through the rules", async () => {
        const runs = await Promise.all([1, 2, 3].map(() => flowRun("bulk-state-flow", { state: { type: "SCHEDULED" } })));
        const ids = runs.map((r) => r.id);
        const { status, body } = await server.call<{ results: Array<{ flow_run_id: string; status: string; state: { type: string } }> }>(
          "POST",
          "/flow_runs/bulk_set_state",
          { flow_runs: { id: { any_: ids } }, state: { type: "CANCELLED" } },
        );
        expect(status).toBe(200);
        expect(body.results.map((r) => r.flow_run_id).sort()).toEqual([...ids].sort());
        expect(body.results.every((r) => r.status === "ACCEPT" && r.state.type === "CANCELLED")).toBe(true);
        for (const id of ids) expect((await server.call<FlowRun>("GET", `/flow_runs/${id}`)).body.state?.type).toBe("CANCELLED");
      });
      it("refuses more than 50 at once and a state without a type", async () => {
        const tooMany = await server.call<{ exception_message: string }>("POST", "/flow_runs/bulk_set_state", { state: { type: "CANCELLED" }, limit: 51 });
        expect(tooMany.status).toBe(422);
        expect(tooMany.body.exception_message).toContain("body.limit");
        const noType = await server.call<{ exception_message: string }>("POST", "/flow_runs/bulk_set_state", { state: {} });
        expect(noType.status).toBe(422);
        expect(noType.body.exception_message).toContain("body.state.type");
      });
    });

    describe("POST /flows/bulk_delete", () => {
      it("deletes the matching flows and returns their ids", async () => {
        const a = await flowNamed("bulk-delete-a");
        const b = await flowNamed("bulk-delete-b");
        const keep = await flowNamed("bulk-delete-keep");
        const { status, body } = await server.call<{ deleted: string[] }>("POST", "/flows/bulk_delete", {
          flows: { name: { any_: ["bulk-delete-a", "bulk-delete-b"] } },
        });
        expect(status).toBe(200);
        expect(body.deleted.sort()).toEqual([a.id, b.id].sort());
        expect((await server.call("GET", `/flows/${a.id}`)).status).toBe(404);
        expect((await server.call("GET", `/flows/${keep.id}`)).status).toBe(200);
      });
      it("refuses a limit outside 1..50", async () => {
        const { status, body } = await server.call<{ exception_message: string }>("POST", "/flows/bulk_delete", { limit: 0 });
        expect(status).toBe(422);
        expect(body.exception_message).toContain("body.limit");
      });
    });

    describe("POST /task_runs/history", () => {
      it("counts task runs per state in each interval", async () => {
        const run = await flowRun("task-history-flow");
        const start = new Date(Date.now() - 60_000).toISOString();
        const completed = await taskRun({ flow_run_id: run.id, task_key: "history-task", state: { type: "RUNNING" } });
        await server.call("POST", `/task_runs/${completed.id}/set_state`, { state: { type: "COMPLETED" } });
        await taskRun({ flow_run_id: run.id, task_key: "history-task", state: { type: "RUNNING" } });
        const { status, body } = await server.call<Array<{ states: Array<{ state_type: string; count_runs: number }> }>>("POST", "/task_runs/history", {
          history_start: start,
          history_end: new Date(Date.now() + 60_000).toISOString(),
          history_interval_seconds: 120,
          flow_runs: { id: { any_: [run.id] } },
        });
        expect(status).toBe(200);
        const counts = Object.fromEntries(body.flatMap((i) => i.states).map((s) => [s.state_type, s.count_runs]));
        expect(counts).toEqual({ COMPLETED: 1, RUNNING: 1 });
      });
      it("refuses an end before the start", async () => {
        const now = new Date().toISOString();
        const { status, body } = await server.call<{ exception_message: string }>("POST", "/task_runs/history", {
          history_start: now,
          history_end: new Date(Date.now() - 1000).toISOString(),
          history_interval_seconds: 60,
        });
        expect(status).toBe(422);
        expect(body.exception_message).toContain("body.history_end");
      });
    });

    describe("GET /flow_runs/{id}/logs/download", () => {
      it("streams the run's logs as CSV, oldest first, with quoting", async () => {
        const run = await flowRun("logs-download-flow");
        const t = Date.now();
        const logs = Array.from({ length: 1205 }, (_, i) => ({
          name: "test",
          level: i === 0 ? 40 : 20,
          message: i === 0 ? 'first, with "quotes"' : `line ${i}`,
          timestamp: new Date(t + i).toISOString(),
          flow_run_id: run.id,
        }));
        expect((await server.call("POST", "/logs/", logs.reverse())).status).toBe(201);
        const response = await fetch(`${server.apiUrl}/flow_runs/${run.id}/logs/download`);
        expect(response.status).toBe(200);
        expect(response.headers.get("content-type")).toContain("text/csv");
        expect(response.headers.get("content-disposition")).toContain("attachment");
        const lines = (await response.text()).trimEnd().split("\n");
        expect(lines[0]).toBe("timestamp,level,flow_run_id,task_run_id,message");
        expect(lines).toHaveLength(1206);
        expect(lines[1]).toBe(`${new Date(t).toISOString()},ERROR,${run.id},,"first, with ""quotes"""`);
        expect(lines[1205]).toContain("line 1204");
      });
      it("answers 404 for an unknown run", async () => {
        expect((await server.call("GET", `/flow_runs/${crypto.randomUUID()}/logs/download`)).status).toBe(404);
      });
    });

    describe("flow run graphs", () => {
      it("draws task runs with their edges and a subflow as its own node", async () => {
        const run = await flowRun("graph-flow", { state: { type: "RUNNING" } });
        const a = await taskRun({ flow_run_id: run.id, task_key: "a", state: { type: "RUNNING" } });
        const b = await taskRun({ flow_run_id: run.id, task_key: "b", state: { type: "RUNNING" }, task_inputs: { x: [{ input_type: "task_run", id: a.id }] } });
        const wrapper = await taskRun({ flow_run_id: run.id, task_key: "sub", state: { type: "RUNNING" } });
        const sub = await flowRun("graph-subflow", { parent_task_run_id: wrapper.id, state: { type: "RUNNING" } });
        const notStarted = await taskRun({ flow_run_id: run.id, task_key: "later" });

        const v1 = await server.call<Array<{ id: string; upstream_dependencies: Array<{ id: string }> }>>("GET", `/flow_runs/${run.id}/graph`);
        expect(v1.status).toBe(200);
        expect(v1.body.find((n) => n.id === b.id)?.upstream_dependencies).toEqual([{ input_type: "task_run", id: a.id }]);
        expect(v1.body).toHaveLength(4);

        const v2 = await server.call<{ root_node_ids: string[]; nodes: Array<[string, { kind: string; parents: Array<{ id: string }>; children: Array<{ id: string }> }]>; states: Array<{ type: string }> }>(
          "GET",
          `/flow_runs/${run.id}/graph-v2`,
        );
        expect(v2.status).toBe(200);
        const nodes = new Map(v2.body.nodes);
        expect([...nodes.keys()].sort()).toEqual([a.id, b.id, sub.id].sort());
        expect(nodes.has(notStarted.id)).toBe(false);
        expect(nodes.get(sub.id)?.kind).toBe("flow-run");
        expect(nodes.get(b.id)?.parents).toEqual([{ id: a.id }]);
        expect(nodes.get(a.id)?.children).toEqual([{ id: b.id }]);
        expect(v2.body.root_node_ids.sort()).toEqual([a.id, sub.id].sort());
        expect(v2.body.states.map((s) => s.type)).toContain("RUNNING");
      });
      it("answers 404 for an unknown run and 422 for a bad since", async () => {
        expect((await server.call("GET", `/flow_runs/${crypto.randomUUID()}/graph-v2`)).status).toBe(404);
        expect((await server.call("GET", `/flow_runs/${crypto.randomUUID()}/graph`)).status).toBe(404);
        const run = await flowRun("graph-flow");
        const bad = await server.call<{ exception_message: string }>("GET", `/flow_runs/${run.id}/graph-v2?since=yesterday`);
        expect(bad.status).toBe(422);
        expect(bad.body.exception_message).toContain("query.since");
      });
    });

    describe("saved searches", () => {
      it("creates, replaces by name, reads, lists and deletes", async () => {
        const filters = [{ object: "flow_run", property: "state", type: "string", operation: "equals", value: "FAILED" }];
        const created = await server.call<{ id: string; name: string; filters: unknown[] }>("PUT", "/saved_searches/", { name: "failed runs", filters });
        expect(created.status).toBe(200);
        expect(created.body.filters).toEqual(filters);
        const replaced = await server.call<{ id: string; filters: unknown[] }>("PUT", "/saved_searches/", { name: "failed runs", filters: [] });
        expect(replaced.body.id).toBe(created.body.id);
        expect(replaced.body.filters).toEqual([]);
        expect((await server.call<{ name: string }>("GET", `/saved_searches/${created.body.id}`)).body.name).toBe("failed runs");
        const listed = await server.call<Array<{ id: string }>>("POST", "/saved_searches/filter", {});
        expect(listed.body.map((s) => s.id)).toContain(created.body.id);
        expect((await server.call("DELETE", `/saved_searches/${created.body.id}`)).status).toBe(204);
        expect((await server.call("GET", `/saved_searches/${created.body.id}`)).status).toBe(404);
        expect((await server.call("DELETE", `/saved_searches/${created.body.id}`)).status).toBe(404);
      });
      it("refuses a search without a name", async () => {
        const { status, body } = await server.call<{ exception_message: string }>("PUT", "/saved_searches/", { filters: [] });
        expect(status).toBe(422);
        expect(body.exception_message).toContain("body.name");
      });
    });

    describe("collections and admin", () => {
      it("answers the worker metadata view from what Baton ships, and 404 for an unknown view", async () => {
        const { status, body } = await server.call<{ baton: { process: { default_base_job_configuration: { job_configuration: unknown } } } }>(
          "GET",
          "/collections/views/aggregate-worker-metadata",
        );
        expect(status).toBe(200);
        expect(body.baton.process.default_base_job_configuration.job_configuration).toBeTypeOf("object");
        expect((await server.call("GET", "/collections/views/no-such-view")).status).toBe(404);
      });
      it("lists the server's settings", async () => {
        const { status, body } = await server.call<Record<string, string>>("GET", "/admin/settings");
        expect(status).toBe(200);
        expect(body["BATON_DATABASE_URL"]).toMatch(dialect === "sqlite" ? /^sqlite:/ : /^postgres/);
      });
    });
  });
}
