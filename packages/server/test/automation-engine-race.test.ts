import { randomUUID } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Automation, ReceivedEvent } from "@baton/core";
import { openDatabase, TriggerEngine, type Database } from "@baton/server";
import { clearTriggered, ensureBucket, markTriggered, readBucket, readTriggeredDue, startNewBucket, takeBucket } from "../src/db/queries/trigger-state.js";
import { MovableClock } from "./automation-harness.js";
import { DIALECTS, eventually, POSTGRES_URL, startTestServer, type TestServer } from "./harness.js";

/**
 * Several servers on one database each run a trigger engine, and each evaluates every
 * proactive trigger and every due resolution. Only one of them may fire a window, or resolve
 * a Triggered state; one acting on what it read before another changed it acts on nothing.
 */
const silent = { debug: () => undefined, info: () => undefined, error: () => undefined };

type Acted = Array<{ engine: string; automation: string; states: string[] }>;

function engineOn(db: Database, name: string, clock: MovableClock, acted: Acted): TriggerEngine {
  return new TriggerEngine({
    db,
    clock,
    logger: silent,
    act: async (automation, firing) => {
      acted.push({ engine: name, automation: automation.id, states: firing.trigger_states });
    },
  });
}

function event(name: string, resource: string, clock: MovableClock): ReceivedEvent {
  const now = clock.now().toISOString();
  return { id: randomUUID(), occurred: now, received: now, event: name, resource: { "prefect.resource.id": resource }, related: [], payload: {}, follows: null };
}

for (const dialect of DIALECTS) {
  describe(`trigger state shared by several servers (${dialect})`, () => {
    let server: TestServer;
    /** The second server's own connection to the same database. */
    let other: Database;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      // SQLite: one process shares one connection (the file is locked by write transactions anyway).
      other = dialect === "postgres" ? await openDatabase({ url: POSTGRES_URL, schema: server.config.databaseSchema, poolSize: 4 }) : server.db;
    });
    afterAll(async () => {
      if (other !== server.db) await other.close();
      await server.close();
    });

    async function automation(name: string, trigger: Record<string, unknown>): Promise<Automation> {
      const created = await server.call<Automation>("POST", "/automations/", { name, trigger, actions: [{ type: "do-nothing" }] });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return created.body;
    }

    it("a resolution acts only on the Triggered state it read (compare-and-set)", async () => {
      const ref = { automationId: (await automation("cas-state", { posture: "Reactive", expect: ["x"] })).id, triggerId: randomUUID(), bucketingKey: ["k"] };
      const t0 = new Date(Date.now() - 120_000);
      await markTriggered(server.db.kysely, new Date(), ref, t0, new Date(t0.getTime() + 60_000), { n: 1 });
      const now = new Date();
      const [read] = (await readTriggeredDue(server.db.kysely, now)).filter((s) => s.automationId === ref.automationId);
      expect(read).toBeDefined();
      // Another server fires it again before this one clears it: the stale clear does nothing.
      await markTriggered(other.kysely, new Date(), ref, new Date(now.getTime() - 1000), new Date(now.getTime() + 60_000), { n: 2 });
      expect(await clearTriggered(server.db.kysely, ref, { triggeredAt: read!.triggeredAt, dueBy: now })).toBe(false);
      // Not due any more either, whatever it reads now.
      expect(await clearTriggered(server.db.kysely, ref, { dueBy: now })).toBe(false);
      expect(await clearTriggered(server.db.kysely, ref)).toBe(true);
      expect(await clearTriggered(server.db.kysely, ref)).toBe(false);
    });

    it("a window is taken once, and not once another server replaced it", async () => {
      const ref = { automationId: (await automation("cas-window", { posture: "Reactive", expect: ["x"] })).id, triggerId: randomUUID(), bucketingKey: [] };
      const start = new Date(Date.now() - 60_000);
      const stale = await ensureBucket(server.db.kysely, new Date(), ref, start, new Date(start.getTime() + 30_000), null);
      await startNewBucket(other.kysely, new Date(), ref, new Date(start.getTime() + 30_000), new Date(start.getTime() + 60_000), 0);
      expect(await takeBucket(server.db.kysely, stale)).toBe(false);
      const fresh = (await readBucket(server.db.kysely, ref))!;
      expect(await takeBucket(server.db.kysely, fresh)).toBe(true);
      expect(await takeBucket(other.kysely, fresh)).toBe(false);
    });

    it("two engines evaluating the same proactive trigger at once fire it once", async () => {
      const clock = new MovableClock();
      const acted: Acted = [];
      const engines = [engineOn(server.db, "a", clock, acted), engineOn(other, "b", clock, acted)];
      const resource = `test.race.${randomUUID()}`;
      const created = await automation("race-proactive", { posture: "Proactive", expect: ["test.race.beat"], match: { "prefect.resource.id": `${resource}.*` }, for_each: ["prefect.resource.id"], threshold: 2, within: 30 });
      await engines[0]!.handle([event("test.race.beat", `${resource}.m1`, clock)]);
      clock.advance(31);
      await Promise.all(engines.map((engine) => engine.evaluateProactive()));
      expect(acted.filter((a) => a.automation === created.id)).toHaveLength(1);
    });

    if (dialect !== "postgres") return;

    /**
     * Holds a row lock on the rows `where` selects while `run` starts both engines' passes,
     * until both wait on it (each has read the state and is about to change it), then lets
     * `meanwhile` change the rows, as a third server would, and releases them.
     */
    async function interleaved(table: string, automationId: string, run: () => Promise<unknown>, meanwhile = ""): Promise<void> {
      const client = new pg.Client({ connectionString: POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`SET search_path TO "${server.config.databaseSchema}"`);
        await client.query("BEGIN");
        await client.query(`SELECT 1 FROM ${table} WHERE automation_id = $1 FOR UPDATE`, [automationId]);
        const { rows } = await client.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
        const passes = run();
        await eventually(async () => {
          // The second waits behind the first (which holds the row's tuple lock), not behind us.
          const waiting = await client.query<{ n: string }>(
            `SELECT count(*) AS n FROM pg_stat_activity w WHERE $1 = ANY(pg_blocking_pids(w.pid))
               OR EXISTS (SELECT 1 FROM pg_stat_activity f WHERE f.pid = ANY(pg_blocking_pids(w.pid)) AND $1 = ANY(pg_blocking_pids(f.pid)))`,
            [rows[0]!.pid],
          );
          return Number(waiting.rows[0]!.n) >= 2;
        }, 10_000, "both engines to wait on the lock");
        if (meanwhile) await client.query(meanwhile, [automationId]);
        await client.query("COMMIT");
        await passes;
      } finally {
        await client.end();
      }
    }

    it("two engines that both read a closed window fire it once", async () => {
      const clock = new MovableClock();
      const acted: Acted = [];
      const engines = [engineOn(server.db, "a", clock, acted), engineOn(other, "b", clock, acted)];
      const resource = `test.race.${randomUUID()}`;
      const created = await automation("race-window", { posture: "Proactive", expect: ["test.race.beat"], match: { "prefect.resource.id": `${resource}.*` }, for_each: ["prefect.resource.id"], threshold: 2, within: 30 });
      await engines[0]!.handle([event("test.race.beat", `${resource}.m1`, clock)]);
      clock.advance(31);
      await interleaved("automation_bucket", created.id, () => Promise.all(engines.map((engine) => engine.evaluateProactive())));
      expect(acted.filter((a) => a.automation === created.id)).toHaveLength(1);
    });

    it("a due resolution read by two engines is not taken once the trigger fired again", async () => {
      const clock = new MovableClock();
      const acted: Acted = [];
      const engines = [engineOn(server.db, "a", clock, acted), engineOn(other, "b", clock, acted)];
      const resource = `test.race.${randomUUID()}`;
      const created = await automation("race-resolve", { posture: "Reactive", expect: ["test.race.spike"], match: { "prefect.resource.id": resource }, threshold: 1, within: 60 });
      await engines[0]!.handle([event("test.race.spike", resource, clock)]);
      expect(acted.filter((a) => a.automation === created.id)).toHaveLength(1);
      clock.advance(200);
      // While both wait to clear the state they read as due, a third server fires it again.
      const refire = `UPDATE automation_trigger_state SET triggered_at = now() + interval '300 seconds', resolve_at = now() + interval '1 hour' WHERE automation_id = $1`;
      await interleaved("automation_trigger_state", created.id, () => Promise.all(engines.map((engine) => engine.evaluateProactive())), refire);
      expect(acted.filter((a) => a.automation === created.id && a.states.includes("Resolved"))).toEqual([]);
    });
  });
}
