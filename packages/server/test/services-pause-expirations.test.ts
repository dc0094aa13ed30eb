import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun } from "@baton/core";
import { createServices } from "@baton/server";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

for (const dialect of DIALECTS) {
  describe(`pause expirations service (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "pause-flow" })).body.id;
    });
    afterAll(() => server.close());

    const paused = async (timeoutOffsetSeconds: number | null) => {
      const run = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, state: { type: "RUNNING" } })).body;
      const pause_timeout = timeoutOffsetSeconds === null ? null : new Date(Date.now() + timeoutOffsetSeconds * 1000).toISOString();
      const result = await server.call<{ status: string }>("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "PAUSED", state_details: { pause_timeout } } });
      expect(result.body.status).toBe("ACCEPT");
      return run.id;
    };
    const read = async (id: string) => (await server.call<FlowRun>("GET", `/flow_runs/${id}`)).body;

    it("fails runs paused past their timeout and leaves the others paused", async () => {
      const expiring = await paused(60);
      const later = await paused(600);
      const forever = await paused(null);
      const expireAt = (offsetSeconds: number) => {
        const clock = { now: () => new Date(Date.now() + offsetSeconds * 1000) };
        return createServices({ db: server.db, config: server.config, events: server.events, clock, logger: quiet }, ["pause_expirations"])[0]!;
      };

      await expireAt(30).runOnce();
      expect((await read(expiring)).state_type).toBe("PAUSED");

      await expireAt(120).runOnce();
      const failed = await read(expiring);
      expect(failed.state_type).toBe("FAILED");
      expect(failed.state?.message).toMatch(/paused past its timeout/);
      expect((await read(later)).state_type).toBe("PAUSED");
      expect((await read(forever)).state_type).toBe("PAUSED");

      // A resumed run is no longer paused, whatever its old timeout said.
      await server.call("POST", `/flow_runs/${later}/set_state`, { state: { type: "RUNNING" } });
      await expireAt(6000).runOnce();
      expect((await read(later)).state_type).toBe("RUNNING");
      expect((await read(forever)).state_type).toBe("PAUSED");
    });
  });
}
