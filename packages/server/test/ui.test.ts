import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

for (const dialect of DIALECTS) {
  describe(`UI routes (${dialect})`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    it("counts task runs per flow run, with zero for runs without any", async () => {
      const flow = (await server.call<{ id: string }>("POST", "/flows/", { name: "ui" })).body;
      const a = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.id })).body;
      const b = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.id })).body;
      for (let i = 0; i < 3; i++) {
        expect((await server.call("POST", "/task_runs/", { flow_run_id: a.id, task_key: "k", dynamic_key: String(i) })).status).toBe(201);
      }
      const { status, body } = await server.call<Record<string, number>>("POST", "/ui/flow_runs/count-task-runs", { flow_run_ids: [a.id, b.id] });
      expect(status).toBe(200);
      expect(body).toEqual({ [a.id]: 3, [b.id]: 0 });
    });

    it("refuses ids that are not UUIDs, naming the field", async () => {
      const { status, body } = await server.call<{ exception_message: string }>("POST", "/ui/flow_runs/count-task-runs", { flow_run_ids: ["nope"] });
      expect(status).toBe(422);
      expect(body.exception_message).toContain("flow_run_ids");
    });
  });
}
