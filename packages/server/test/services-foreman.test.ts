import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServices } from "@baton/server";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

for (const dialect of DIALECTS) {
  describe(`foreman service (${dialect})`, () => {
    let server: TestServer;
    const now = new Date("2030-06-01T12:00:00.000Z");
    const ago = (seconds: number) => new Date(now.getTime() - seconds * 1000).toISOString();
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    // The work pool API belongs elsewhere; rows are written directly so this test only depends on the service.
    const pool = async (name: string, status: string, lastPolledSecondsAgo: number | null) => {
      const id = randomUUID();
      await server.db.kysely
        .insertInto("work_pool")
        .values({
          id,
          created: ago(3600),
          updated: ago(3600),
          name,
          type: "process",
          base_job_template: "{}",
          is_paused: status === "PAUSED" ? 1 : 0,
          status,
          last_polled: lastPolledSecondsAgo === null ? null : ago(lastPolledSecondsAgo),
        })
        .execute();
      return id;
    };
    const worker = async (poolId: string, name: string, heartbeatSecondsAgo: number | null, intervalSeconds: number | null) => {
      const id = randomUUID();
      await server.db.kysely
        .insertInto("worker")
        .values({
          id,
          created: ago(3600),
          updated: ago(3600),
          name,
          work_pool_id: poolId,
          last_heartbeat_time: heartbeatSecondsAgo === null ? null : ago(heartbeatSecondsAgo),
          heartbeat_interval_seconds: intervalSeconds,
          status: "ONLINE",
        })
        .execute();
      return id;
    };
    const queue = async (poolId: string, name: string, status: string, lastPolledSecondsAgo: number) => {
      const id = randomUUID();
      await server.db.kysely
        .insertInto("work_queue")
        .values({ id, created: ago(3600), updated: ago(3600), name, work_pool_id: poolId, priority: 1, is_paused: status === "PAUSED" ? 1 : 0, status, last_polled: ago(lastPolledSecondsAgo) })
        .execute();
      return id;
    };
    const status = async (table: "worker" | "work_pool" | "work_queue" | "deployment", id: string) =>
      (await server.db.kysely.selectFrom(table).select("status").where("id", "=", id).executeTakeFirstOrThrow()).status;

    it("demotes silent workers, then pools, queues and deployments nobody polls", async () => {
      // Window: heartbeat interval (fallback 29.5 s: fractions bind too) x 3.
      const quietPool = await pool("quiet-pool", "READY", 300);
      const lateWorker = await worker(quietPool, "late", 100, 30);
      const livePool = await pool("live-pool", "READY", 300);
      const liveWorker = await worker(livePool, "live", 10, 30);
      const slowWorker = await worker(livePool, "slow-but-fine", 200, 100);
      const noIntervalWorker = await worker(livePool, "no-interval", 100, null);
      const neverBeatWorker = await worker(livePool, "never-beat", null, 30);
      const pausedPool = await pool("paused-pool", "PAUSED", 3000);
      const polledPool = await pool("polled-pool", "READY", 10);

      const staleQueue = await queue(polledPool, "stale", "READY", 300);
      const freshQueue = await queue(polledPool, "fresh", "READY", 10);
      const pausedQueue = await queue(polledPool, "paused", "PAUSED", 3000);

      const flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "foreman-flow" })).body.id;
      const deployment = async (name: string, lastPolledSecondsAgo: number) => {
        const id = (await server.call<{ id: string }>("POST", "/deployments/", { flow_id: flowId, name })).body.id;
        await server.db.kysely.updateTable("deployment").set({ status: "READY", last_polled: ago(lastPolledSecondsAgo) }).where("id", "=", id).execute();
        return id;
      };
      const staleDeployment = await deployment("stale", 300);
      const freshDeployment = await deployment("fresh", 10);

      const config = { ...server.config, foreman: { inactivityHeartbeatMultiple: 3, fallbackHeartbeatIntervalSeconds: 29.5 } };
      const [foreman] = createServices({ db: server.db, config, events: server.events, clock: { now: () => now }, logger: quiet }, ["foreman"]);
      await foreman!.runOnce();

      expect(await status("worker", lateWorker)).toBe("OFFLINE");
      expect(await status("worker", liveWorker)).toBe("ONLINE");
      expect(await status("worker", slowWorker)).toBe("ONLINE");
      expect(await status("worker", noIntervalWorker)).toBe("OFFLINE");
      expect(await status("worker", neverBeatWorker)).toBe("OFFLINE");
      // Its only worker went offline in the same pass, and nobody polled it lately.
      expect(await status("work_pool", quietPool)).toBe("NOT_READY");
      expect(await status("work_pool", livePool)).toBe("READY");
      expect(await status("work_pool", pausedPool)).toBe("PAUSED");
      expect(await status("work_pool", polledPool)).toBe("READY");
      expect(await status("work_queue", staleQueue)).toBe("NOT_READY");
      expect(await status("work_queue", freshQueue)).toBe("READY");
      expect(await status("work_queue", pausedQueue)).toBe("PAUSED");
      expect(await status("deployment", staleDeployment)).toBe("NOT_READY");
      expect(await status("deployment", freshDeployment)).toBe("READY");
      const deploymentRead = await server.call<{ status: string }>("GET", `/deployments/${staleDeployment}`);
      expect(deploymentRead.body.status).toBe("NOT_READY");

      // The last online worker of the live pool goes quiet too: the pool follows on the next pass.
      const later = new Date(now.getTime() + 1000_000);
      const [laterForeman] = createServices({ db: server.db, config, events: server.events, clock: { now: () => later }, logger: quiet }, ["foreman"]);
      await laterForeman!.runOnce();
      expect(await status("worker", liveWorker)).toBe("OFFLINE");
      expect(await status("worker", slowWorker)).toBe("OFFLINE");
      expect(await status("work_pool", livePool)).toBe("NOT_READY");
      expect(await status("work_pool", polledPool)).toBe("NOT_READY");
    });
  });
}
