import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, State, TaskRun } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface ValidationError {
  exception_message: string;
}

for (const dialect of DIALECTS) {
  describe(`task run recorder: task runs from prefect.task-run.* events (${dialect})`, () => {
    let server: TestServer;
    let flowRun: FlowRun;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      const flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "recorder-flow" })).body.id;
      flowRun = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, state: { type: "RUNNING" } })).body;
    });
    afterAll(() => server.close());

    const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000).toISOString();
    /** One state event of the task run `id`, as the SDK's reporter sends it. */
    const stateEvent = (id: string, key: string, type: string, name: string, seconds: number, run: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) => ({
      id: randomUUID(),
      occurred: at(seconds),
      event: `prefect.task-run.${name}`,
      resource: { "prefect.resource.id": `prefect.task-run.${id}`, "prefect.resource.name": `t-${key}` },
      related: [{ "prefect.resource.id": `prefect.flow-run.${flowRun.id}`, "prefect.resource.role": "flow-run" }],
      payload: {
        intended: { from: null, to: type },
        validated_state: { type, name, message: null, state_details: {}, data: type === "COMPLETED" ? 42 : null, ...extra },
        task_run: {
          id,
          name: `t-${key}`,
          flow_run_id: flowRun.id,
          task_key: "t",
          dynamic_key: key,
          empirical_policy: { retries: 0, retry_delay: 0 },
          tags: [],
          task_inputs: { x: [] },
          run_count: type === "PENDING" ? 0 : 1,
          created: at(0),
          start_time: type === "PENDING" ? null : at(2),
          end_time: type === "COMPLETED" ? at(seconds) : null,
          ...run,
        },
      },
    });
    const readRun = async (id: string) => (await server.call<TaskRun>("GET", `/task_runs/${id}`)).body;
    const history = async (id: string) => (await server.call<State[]>("GET", `/task_run_states/?task_run_id=${id}`)).body;

    it("creates a task run and its state history from its events, once however often they are sent", async () => {
      const id = randomUUID();
      const batch = [stateEvent(id, "0", "PENDING", "Pending", 1), stateEvent(id, "0", "RUNNING", "Running", 2), stateEvent(id, "0", "COMPLETED", "Completed", 3)];
      expect((await server.call("POST", "/events", batch)).status).toBe(204);
      expect((await server.call("POST", "/events", batch)).status).toBe(204);
      const run = await readRun(id);
      expect(run).toMatchObject({ id, name: "t-0", flow_run_id: flowRun.id, task_key: "t", dynamic_key: "0", state_type: "COMPLETED", state_name: "Completed", run_count: 1 });
      expect(run.state).toMatchObject({ id: batch[2]!.id, type: "COMPLETED", timestamp: at(3), data: 42 });
      expect(run.start_time).toBe(at(2));
      expect(run.end_time).toBe(at(3));
      expect((await history(id)).map((s) => [s.id, s.name])).toEqual(batch.map((e) => [e.id, e.payload.validated_state.name]));
      // The events are stored as events too.
      await server.persisted(batch.map((e) => e.id));
      const stored = await server.call<{ total: number }>("POST", "/events/filter", { filter: { occurred: { since: at(0), until: at(10) }, resource: { id: [`prefect.task-run.${id}`] } } });
      expect(stored.body.total).toBe(3);
      // And the run is one of its flow run's task runs.
      const count = await server.call<number>("POST", "/task_runs/count", { task_runs: { flow_run_id: { any_: [flowRun.id] }, id: { any_: [id] } } });
      expect(count.body).toBe(1);
    });

    it("keeps the newest state when events arrive out of order, in one batch or across batches", async () => {
      const id = randomUUID();
      const pending = stateEvent(id, "1", "PENDING", "Pending", 1);
      const running = stateEvent(id, "1", "RUNNING", "Running", 2);
      const completed = stateEvent(id, "1", "COMPLETED", "Completed", 3);
      expect((await server.call("POST", "/events", [completed, pending])).status).toBe(204);
      expect((await server.call("POST", "/events", [running])).status).toBe(204);
      const run = await readRun(id);
      expect(run.state_type).toBe("COMPLETED");
      expect(run.state_id).toBe(completed.id);
      expect((await history(id)).map((s) => s.type)).toEqual(["PENDING", "RUNNING", "COMPLETED"]);
    });

    it("records batches sent at once that share runs in opposite orders, losing none (no deadlock between them)", async () => {
      for (let round = 0; round < 4; round++) {
        const ids = Array.from({ length: 300 }, () => randomUUID());
        const pending = ids.map((id, i) => stateEvent(id, `race-${round}-${i}`, "PENDING", "Pending", 1));
        const running = ids.map((id, i) => stateEvent(id, `race-${round}-${i}`, "RUNNING", "Running", 2)).reverse();
        const [a, b] = await Promise.all([server.call("POST", "/events", pending), server.call("POST", "/events", running)]);
        expect([a.status, b.status], JSON.stringify([a.body, b.body])).toEqual([204, 204]);
        const count = await server.call<number>("POST", "/task_runs/count", { task_runs: { id: { any_: ids }, state: { type: { any_: ["RUNNING"] } } } });
        expect(count.body).toBe(ids.length);
      }
    });

    it("records retries (AwaitingRetry, Retrying) and a crash", async () => {
      const id = randomUUID();
      const scheduled = { scheduled_time: at(5) };
      const batch = [
        stateEvent(id, "2", "PENDING", "Pending", 1),
        stateEvent(id, "2", "RUNNING", "Running", 2),
        stateEvent(id, "2", "SCHEDULED", "AwaitingRetry", 3, { next_scheduled_start_time: at(5) }, { state_details: scheduled }),
        stateEvent(id, "2", "RUNNING", "Retrying", 5, { run_count: 2, start_time: at(2) }),
        stateEvent(id, "2", "CRASHED", "Crashed", 6, { run_count: 2, start_time: at(2), end_time: at(6) }, { message: "Execution was interrupted by SIGTERM" }),
      ];
      expect((await server.call("POST", "/events", batch)).status).toBe(204);
      const run = await readRun(id);
      expect(run).toMatchObject({ state_type: "CRASHED", run_count: 2, start_time: at(2), end_time: at(6) });
      expect(run.state?.message).toBe("Execution was interrupted by SIGTERM");
      const states = await history(id);
      expect(states.map((s) => s.name)).toEqual(["Pending", "Running", "AwaitingRetry", "Retrying", "Crashed"]);
      expect(states[2]?.state_details.scheduled_time).toBe(at(5));
    });

    it("refuses a bad task-run event with a 422 naming the field, recording nothing of the batch", async () => {
      const id = randomUUID();
      const good = stateEvent(id, "3", "PENDING", "Pending", 1);
      const noKey = stateEvent(randomUUID(), "4", "PENDING", "Pending", 1, { task_key: "" });
      let response = await server.call<ValidationError>("POST", "/events", [good, noKey]);
      expect(response.status).toBe(422);
      expect(response.body.exception_message).toContain("body.1.payload.task_run.task_key");
      expect((await server.call("GET", `/task_runs/${id}`)).status).toBe(404);

      const badState = stateEvent(randomUUID(), "5", "PENDING", "Pending", 1, {}, { type: "DONE" });
      response = await server.call<ValidationError>("POST", "/events", [badState]);
      expect(response.status).toBe(422);
      expect(response.body.exception_message).toContain("body.0.payload.validated_state.type");

      const otherResource = { ...stateEvent(randomUUID(), "6", "PENDING", "Pending", 1), resource: { "prefect.resource.id": `prefect.task-run.${randomUUID()}` } };
      response = await server.call<ValidationError>("POST", "/events", [otherResource]);
      expect(response.status).toBe(422);
      expect(response.body.exception_message).toContain("body.0.resource");

      const noFlowRun = stateEvent(randomUUID(), "7", "PENDING", "Pending", 1, { flow_run_id: randomUUID() });
      response = await server.call<ValidationError>("POST", "/events", [noFlowRun]);
      expect(response.status).toBe(422);
      expect(response.body.exception_message).toContain("body.0.payload.task_run.flow_run_id");
    });

    it("takes payloads in any valid spelling: upper-case ids, other time zones, inputs from upstream runs", async () => {
      const upstream = randomUUID();
      const id = randomUUID();
      const event = stateEvent(id.toUpperCase(), "8", "RUNNING", "Running", 2, {
        start_time: "2026-01-01T01:00:02+01:00",
        created: "2026-01-01T00:00:00Z",
        task_inputs: { x: [{ input_type: "task_run", id: upstream }] },
      });
      event.resource["prefect.resource.id"] = `prefect.task-run.${id}`;
      expect((await server.call("POST", "/events", [event])).status).toBe(204);
      const run = await readRun(id);
      expect(run).toMatchObject({ id, state_type: "RUNNING", start_time: at(2), created: at(0) });
      expect(run.task_inputs).toEqual({ x: [{ input_type: "task_run", id: upstream }] });
    });

    it("stores task-run events without a task run in the payload as events only", async () => {
      const id = randomUUID();
      const event = { id: randomUUID(), occurred: at(1), event: "prefect.task-run.Custom", resource: { "prefect.resource.id": `prefect.task-run.${id}` }, payload: { note: 1 } };
      expect((await server.call("POST", "/events", [event])).status).toBe(204);
      expect((await server.call("GET", `/task_runs/${id}`)).status).toBe(404);
    });
  });
}
