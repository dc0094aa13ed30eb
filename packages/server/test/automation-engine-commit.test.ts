import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Automation, ReceivedEvent } from "@baton/core";
import { TriggerEngine } from "@baton/server";
import { MovableClock } from "./automation-harness.js";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/**
 * The trigger engine takes an automation's actions only once the transaction that decided
 * them has committed. The engines here run on a test server's database with a recorder for
 * `act`; a database trigger makes the evaluation's transaction fail after the firing was
 * decided (opening the next window is refused), the way a conflict or a lost connection would.
 */
const silent = { debug: () => undefined, info: () => undefined, error: () => undefined };

type Acted = Array<{ automation: string; states: string[] }>;

function engineOn(server: TestServer, clock: MovableClock, acted: Acted): TriggerEngine {
  return new TriggerEngine({
    db: server.db,
    clock,
    logger: silent,
    act: async (automation, firing) => {
      acted.push({ automation: automation.id, states: firing.trigger_states });
    },
  });
}

function event(name: string, resource: string, clock: MovableClock): ReceivedEvent {
  const now = clock.now().toISOString();
  return { id: randomUUID(), occurred: now, received: now, event: name, resource: { "prefect.resource.id": resource }, related: [], payload: {}, follows: null };
}

/** Makes every INSERT of a next window into `automation_bucket` fail, until `allow` is called. */
async function refuseNextWindows(server: TestServer): Promise<{ allow(): Promise<void> }> {
  const db = server.db.kysely;
  if (server.dialect === "sqlite") {
    await sql
      .raw(
        `CREATE TRIGGER refuse_next_window BEFORE INSERT ON automation_bucket WHEN NEW.last_operation = 'start_new_bucket[insert]'
         BEGIN SELECT RAISE(ABORT, 'next window refused'); END`,
      )
      .execute(db);
    return { allow: async () => void (await sql.raw("DROP TRIGGER refuse_next_window").execute(db)) };
  }
  await sql
    .raw(
      `CREATE FUNCTION refuse_next_window() RETURNS trigger LANGUAGE plpgsql AS $$
       BEGIN IF NEW.last_operation = 'start_new_bucket[insert]' THEN RAISE EXCEPTION 'next window refused'; END IF; RETURN NEW; END $$;
       CREATE TRIGGER refuse_next_window BEFORE INSERT ON automation_bucket FOR EACH ROW EXECUTE FUNCTION refuse_next_window()`,
    )
    .execute(db);
  return { allow: async () => void (await sql.raw("DROP TRIGGER refuse_next_window ON automation_bucket; DROP FUNCTION refuse_next_window()").execute(db)) };
}

/**
 * PostgreSQL: lets every statement of an evaluation succeed but makes its COMMIT fail (a
 * deferred constraint trigger refuses the next window at commit), as a lost connection or a
 * serialization failure at commit would.
 */
async function refuseAtCommit(server: TestServer): Promise<{ allow(): Promise<void> }> {
  const db = server.db.kysely;
  await sql
    .raw(
      `CREATE FUNCTION refuse_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'commit refused'; END $$;
       CREATE CONSTRAINT TRIGGER refuse_at_commit AFTER INSERT ON automation_bucket DEFERRABLE INITIALLY DEFERRED
         FOR EACH ROW WHEN (NEW.last_operation = 'start_new_bucket[insert]') EXECUTE FUNCTION refuse_at_commit()`,
    )
    .execute(db);
  return { allow: async () => void (await sql.raw("DROP TRIGGER refuse_at_commit ON automation_bucket; DROP FUNCTION refuse_at_commit()").execute(db)) };
}

for (const dialect of DIALECTS) {
  describe(`trigger actions wait for the commit (${dialect})`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    async function automation(name: string, trigger: Record<string, unknown>): Promise<Automation> {
      const created = await server.call<Automation>("POST", "/automations/", { name, trigger, actions: [{ type: "do-nothing" }] });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return created.body;
    }

    it("a rolled-back reactive evaluation takes no action, and its retry acts exactly once", async () => {
      const clock = new MovableClock();
      const acted: Acted = [];
      const engine = engineOn(server, clock, acted);
      const resource = `test.commit.${randomUUID()}`;
      // A window (within > 0) keeps state, so the evaluation runs in a transaction; it fires at the first event.
      const created = await automation("commit-reactive", { posture: "Reactive", expect: ["test.commit.boom"], match: { "prefect.resource.id": resource }, threshold: 1, within: 60 });
      const boom = event("test.commit.boom", resource, clock);

      const refusal = await refuseNextWindows(server);
      await expect(engine.handle([boom])).rejects.toThrow(/next window refused/);
      expect(acted).toEqual([]);
      // Nothing of the failed evaluation stayed: the trigger is not Triggered.
      const states = await server.db.kysely.selectFrom("automation_trigger_state").selectAll().where("automation_id", "=", created.id).execute();
      expect(states).toEqual([]);

      // The same event delivered again, now that the database takes the writes: one firing.
      await refusal.allow();
      await engine.handle([boom]);
      expect(acted).toEqual([{ automation: created.id, states: ["Triggered"] }]);
      // And a redelivery after the success changes nothing.
      await engine.handle([boom]);
      expect(acted).toHaveLength(1);
    });

    it("an event twice in one batch counts once", async () => {
      const clock = new MovableClock();
      const acted: Acted = [];
      const engine = engineOn(server, clock, acted);
      const resource = `test.commit.${randomUUID()}`;
      // Two of these within the window fire; the same event delivered twice is one.
      const created = await automation("commit-doubled", { posture: "Reactive", expect: ["test.commit.twice"], match: { "prefect.resource.id": resource }, threshold: 2, within: 60 });
      const once = event("test.commit.twice", resource, clock);
      await engine.handle([once, once]);
      expect(acted).toEqual([]);
      await engine.handle([event("test.commit.twice", resource, clock)]);
      expect(acted).toEqual([{ automation: created.id, states: ["Triggered"] }]);
    });

    it("trigger state is stamped with the engine's clock, not the wall clock", async () => {
      const clock = new MovableClock();
      clock.advance(10 * 86_400);
      const engine = engineOn(server, clock, []);
      const resource = `test.commit.${randomUUID()}`;
      const created = await automation("commit-clock", { posture: "Reactive", expect: ["test.commit.tick"], match: { "prefect.resource.id": resource }, threshold: 1, within: 60 });
      await engine.handle([event("test.commit.tick", resource, clock)]);
      const stamps = [
        ...(await server.db.kysely.selectFrom("automation_bucket").select(["created", "updated"]).where("automation_id", "=", created.id).execute()),
        ...(await server.db.kysely.selectFrom("automation_trigger_state").select(["created", "updated"]).where("automation_id", "=", created.id).execute()),
      ];
      expect(stamps).toHaveLength(2);
      for (const stamp of [...stamps.map((s) => s.created), ...stamps.map((s) => s.updated)]) {
        expect(Math.abs(new Date(stamp).getTime() - clock.now().getTime())).toBeLessThan(60_000);
      }
    });

    it("a rolled-back proactive evaluation takes no action, and the next pass acts exactly once", async () => {
      const clock = new MovableClock();
      const acted: Acted = [];
      const engine = engineOn(server, clock, acted);
      const resource = `test.commit.${randomUUID()}`;
      const created = await automation("commit-proactive", { posture: "Proactive", expect: ["test.commit.beat"], match: { "prefect.resource.id": resource }, threshold: 1, within: 30 });
      await engine.evaluateProactive();
      clock.advance(31);

      const refusal = await refuseNextWindows(server);
      // A failing trigger is logged, not thrown: the others still get their pass.
      await engine.evaluateProactive();
      expect(acted.filter((a) => a.automation === created.id)).toEqual([]);

      await refusal.allow();
      await engine.evaluateProactive();
      expect(acted.filter((a) => a.automation === created.id)).toEqual([{ automation: created.id, states: ["Triggered"] }]);
      await engine.evaluateProactive();
      expect(acted.filter((a) => a.automation === created.id)).toHaveLength(1);
    });

    if (dialect !== "postgres") return;

    it("an evaluation whose COMMIT fails takes no action, and its retry acts exactly once", async () => {
      const clock = new MovableClock();
      const acted: Acted = [];
      const engine = engineOn(server, clock, acted);
      const resource = `test.commit.${randomUUID()}`;
      const created = await automation("commit-fails-reactive", { posture: "Reactive", expect: ["test.commit.late"], match: { "prefect.resource.id": resource }, threshold: 1, within: 60 });
      const late = event("test.commit.late", resource, clock);
      const refusal = await refuseAtCommit(server);
      try {
        await expect(engine.handle([late])).rejects.toThrow(/commit refused/);
      } finally {
        await refusal.allow();
      }
      expect(acted).toEqual([]);
      await engine.handle([late]);
      expect(acted).toEqual([{ automation: created.id, states: ["Triggered"] }]);
    });

    it("a proactive pass whose COMMIT fails is retried at the next pass, not a window later", async () => {
      const clock = new MovableClock();
      const acted: Acted = [];
      const engine = engineOn(server, clock, acted);
      const resource = `test.commit.${randomUUID()}`;
      const created = await automation("commit-fails-proactive", { posture: "Proactive", expect: ["test.commit.pulse"], match: { "prefect.resource.id": resource }, threshold: 1, within: 30 });
      await engine.evaluateProactive();
      clock.advance(31);
      const refusal = await refuseAtCommit(server);
      try {
        await engine.evaluateProactive();
      } finally {
        await refusal.allow();
      }
      expect(acted.filter((a) => a.automation === created.id)).toEqual([]);
      // The same instant: the rolled-back window is still closed and unfired.
      await engine.evaluateProactive();
      expect(acted.filter((a) => a.automation === created.id)).toEqual([{ automation: created.id, states: ["Triggered"] }]);
    });
  });
}
