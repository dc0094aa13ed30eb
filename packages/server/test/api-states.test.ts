import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun, OrchestrationResult, State, TaskRun } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let server: TestServer;
    let flowId: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "states" })).body.id;
    });
    afterAll(() => server.close());

    async function newRun(): Promise<FlowRun> {
      const { status, body } = await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, state: { type: "SCHEDULED" } });
      expect(status).toBe(201);
      return body;
    }

    for (const kind of ["flow_run", "task_run"] as const) {
      describe(`${kind}_states`, () => {
        const path = `/${kind}_states`;
        async function newTarget(): Promise<{ id: string; state: State }> {
          const run = await newRun();
          if (kind === "flow_run") return { id: run.id, state: run.state! };
          const { status, body } = await server.call<TaskRun>("POST", "/task_runs/", {
            flow_run_id: run.id,
            task_key: "k",
            dynamic_key: "0",
            state: { type: "SCHEDULED" },
          });
          expect(status).toBe(201);
          return { id: body.id, state: body.state! };
        }
        async function force(id: string, state: Record<string, unknown>): Promise<State> {
          const { status, body } = await server.call<OrchestrationResult>("POST", `/${kind}s/${id}/set_state`, { state, force: true });
          expect(status).toBe(201);
          return body.state!;
        }

        it("reads one state by id with all its fields", async () => {
          const target = await newTarget();
          const written = await force(target.id, { type: "FAILED", name: "Broken", message: "it broke", data: { type: "unpersisted" } });
          const { status, body } = await server.call<State>("GET", `${path}/${written.id}`);
          expect(status).toBe(200);
          expect(body).toEqual(written);
          expect(body.type).toBe("FAILED");
          expect(body.name).toBe("Broken");
          expect(body.message).toBe("it broke");
          expect(body.data).toEqual({ type: "unpersisted" });
          expect(body.state_details[`${kind}_id`]).toBe(target.id);
          expect(Number.isNaN(Date.parse(body.timestamp))).toBe(false);
        });

        it("answers 404 for an unknown state id", async () => {
          expect((await server.call("GET", `${path}/${crypto.randomUUID()}`)).status).toBe(404);
        });

        it("lists a run's states oldest first, even when written within one millisecond", async () => {
          const target = await newTarget();
          const types = ["PENDING", "RUNNING", "PAUSED", "RUNNING", "FAILED", "SCHEDULED", "PENDING", "RUNNING", "COMPLETED"];
          const written: State[] = [];
          for (const type of types) written.push(await force(target.id, { type }));
          const { status, body } = await server.call<State[]>("GET", `${path}/?${kind}_id=${target.id}`);
          expect(status).toBe(200);
          expect(body.map((s) => s.type)).toEqual(["SCHEDULED", ...types]);
          expect(body.map((s) => s.id)).toEqual([target.state.id, ...written.map((s) => s.id)]);
          const times = body.map((s) => Date.parse(s.timestamp));
          expect([...times].sort((a, b) => a - b)).toEqual(times);
        });

        it("lists only that run's states", async () => {
          const a = await newTarget();
          const b = await newTarget();
          await force(b.id, { type: "PENDING" });
          const { body } = await server.call<State[]>("GET", `${path}/?${kind}_id=${a.id}`);
          expect(body.map((s) => s.id)).toEqual([a.state.id]);
        });

        it("lists nothing for an unknown run", async () => {
          const { status, body } = await server.call<State[]>("GET", `${path}/?${kind}_id=${crypto.randomUUID()}`);
          expect(status).toBe(200);
          expect(body).toEqual([]);
        });

        it(`requires ${kind}_id (422 naming it)`, async () => {
          const { status, body } = await server.call<{ exception_message: string }>("GET", `${path}/`);
          expect(status).toBe(422);
          expect(body.exception_message).toContain(`${kind}_id`);
        });
      });
    }
  });
}
