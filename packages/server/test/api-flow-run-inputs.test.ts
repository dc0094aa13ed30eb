import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Flow, FlowRun } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    async function run(state: Record<string, unknown> = { type: "RUNNING" }): Promise<FlowRun> {
      const flow = (await server.call<Flow>("POST", "/flows/", { name: "inputs-flow" })).body;
      return (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flow.id, state })).body;
    }

    it("stores, reads, filters and deletes a run's inputs", async () => {
      const r = await run();
      expect((await server.call("POST", `/flow_runs/${r.id}/input`, { key: "paused-1-schema", value: JSON.stringify({ type: "object" }) })).status).toBe(201);
      expect((await server.call("POST", `/flow_runs/${r.id}/input`, { key: "paused-1-response", value: "42", sender: "ada" })).status).toBe(201);
      expect((await server.call("POST", `/flow_runs/${r.id}/input`, { key: "other", value: '"x"' })).status).toBe(201);
      expect((await server.call("POST", `/flow_runs/${r.id}/input`, { key: "other", value: '"y"' })).status).toBe(409);
      expect((await server.call("GET", `/flow_runs/${r.id}/input/paused-1-response`)).body).toBe(42);
      const filtered = await server.call<Array<{ key: string; sender: string | null }>>("POST", `/flow_runs/${r.id}/input/filter`, {
        prefix: "paused-1",
        limit: 10,
        exclude_keys: ["paused-1-schema"],
      });
      expect(filtered.body.map((i) => [i.key, i.sender])).toEqual([["paused-1-response", "ada"]]);
      expect((await server.call("DELETE", `/flow_runs/${r.id}/input/other`)).status).toBe(204);
      expect((await server.call("GET", `/flow_runs/${r.id}/input/other`)).status).toBe(404);
      expect((await server.call("DELETE", `/flow_runs/${r.id}/input/other`)).status).toBe(404);
    });

    it("refuses bad keys, values that are not JSON, and unknown runs", async () => {
      const r = await run();
      const badKey = await server.call<{ exception_message: string }>("POST", `/flow_runs/${r.id}/input`, { key: "no spaces", value: "1" });
      expect(badKey.status).toBe(422);
      expect(badKey.body.exception_message).toContain("body.key");
      const badValue = await server.call<{ exception_message: string }>("POST", `/flow_runs/${r.id}/input`, { key: "k", value: "{not json" });
      expect(badValue.status).toBe(422);
      expect(badValue.body.exception_message).toContain("body.value");
      expect((await server.call("POST", `/flow_runs/${crypto.randomUUID()}/input`, { key: "k", value: "1" })).status).toBe(404);
    });

    it("resumes a paused run: input checked against the stored schema, then RUNNING (or Scheduled for a suspension)", async () => {
      const keyset = { description: "paused-1-description", response: "paused-1-response", schema: "paused-1-schema" };
      const timeout = new Date(Date.now() + 60_000).toISOString();
      for (const reschedule of [false, true]) {
        const r = await run();
        await server.call("POST", `/flow_runs/${r.id}/input`, {
          key: keyset.schema,
          value: JSON.stringify({ type: "object", properties: { n: { type: "integer" } }, required: ["n"] }),
        });
        const paused = await server.call("POST", `/flow_runs/${r.id}/set_state`, {
          state: { type: "PAUSED", state_details: { pause_timeout: timeout, pause_reschedule: reschedule, run_input_keyset: keyset } },
        });
        expect(paused.status).toBe(201);
        const missing = await server.call<{ exception_message: string }>("POST", `/flow_runs/${r.id}/resume`, { run_input: {} });
        expect(missing.status).toBe(422);
        expect(missing.body.exception_message).toContain("body.run_input.n");
        const wrongType = await server.call<{ exception_message: string }>("POST", `/flow_runs/${r.id}/resume`, { run_input: { n: "three" } });
        expect(wrongType.status).toBe(422);
        expect(wrongType.body.exception_message).toContain("body.run_input.n");
        const ok = await server.call<{ status: string; state: { type: string; name: string } }>("POST", `/flow_runs/${r.id}/resume`, { run_input: { n: 3 } });
        expect(ok.status).toBe(201);
        expect(ok.body.status).toBe("ACCEPT");
        expect(ok.body.state.type).toBe(reschedule ? "SCHEDULED" : "RUNNING");
        expect((await server.call("GET", `/flow_runs/${r.id}/input/${keyset.response}`)).body).toEqual({ n: 3 });
      }
    });

    it("does not resume a run that is not paused, or whose pause timed out", async () => {
      const running = await run();
      const notPaused = await server.call<{ status: string }>("POST", `/flow_runs/${running.id}/resume`, {});
      expect(notPaused.body.status).toBe("ABORT");
      const expired = await run();
      await server.call("POST", `/flow_runs/${expired.id}/set_state`, { state: { type: "PAUSED", state_details: { pause_timeout: new Date(Date.now() - 1000).toISOString() } } });
      const late = await server.call<{ status: string; details: { reason: string } }>("POST", `/flow_runs/${expired.id}/resume`, {});
      expect(late.body.status).toBe("ABORT");
      expect(late.body.details.reason).toContain("timed out");
      expect((await server.call("POST", `/flow_runs/${crypto.randomUUID()}/resume`, {})).status).toBe(404);
    });
  });
}
