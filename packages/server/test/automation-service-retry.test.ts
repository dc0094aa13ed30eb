import { randomUUID } from "node:crypto";
import { sql } from "kysely";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAX_EVALUATION_ATTEMPTS } from "../src/services/triggers.js";
import { database, Harness, type Db } from "./automation-harness.js";
import { eventually } from "./harness.js";

/**
 * The triggers service hands a batch whose evaluation failed back to the event stream, so a
 * transient failure loses no event. PostgreSQL only: a sequence counts the failed attempts
 * (its value survives the rollback of the evaluation that failed), so the test lets the
 * database take the writes again only once an evaluation has failed.
 */
describe("a failed reactive evaluation is delivered again (postgres)", () => {
  let db: Db;
  let h: Harness;
  beforeAll(async () => {
    db = database("postgres");
    h = await Harness.start(db);
  });
  afterAll(async () => {
    await h.server.close();
    await db.cleanup();
  });

  /** Makes every new window fail, counting the attempts in a sequence (which a rollback does not undo). */
  async function refuseWindows(): Promise<{ attempts(): Promise<number>; allow(): Promise<void> }> {
    const kysely = h.server.db.kysely;
    await sql
      .raw(
        `CREATE SEQUENCE refused_attempts;
         CREATE FUNCTION refuse_window() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN PERFORM nextval('refused_attempts'); RAISE EXCEPTION 'window refused'; END $$;
         CREATE TRIGGER refuse_window BEFORE INSERT ON automation_bucket FOR EACH ROW EXECUTE FUNCTION refuse_window()`,
      )
      .execute(kysely);
    return {
      attempts: async () => {
        const { rows } = await sql<{ n: string; called: boolean }>`SELECT last_value AS n, is_called AS called FROM refused_attempts`.execute(kysely);
        return rows[0]?.called ? Number(rows[0].n) : 0;
      },
      allow: async () => void (await sql.raw("DROP TRIGGER refuse_window ON automation_bucket; DROP FUNCTION refuse_window(); DROP SEQUENCE refused_attempts").execute(kysely)),
    };
  }

  it("a batch that keeps failing is dropped after a few attempts, and the events behind it are evaluated", async () => {
    const resource = `test.retry.${randomUUID()}`;
    const trigger = { posture: "Reactive", expect: ["test.retry.stuck"], match: { "prefect.resource.id": resource }, threshold: 1, within: 60 };
    await h.automation({ name: "stuck", trigger, actions: [{ type: "do-nothing" }] });
    const refusal = await refuseWindows();
    const stuck = randomUUID();
    try {
      expect((await h.call("POST", "/events", [{ id: stuck, occurred: h.clock.now().toISOString(), event: "test.retry.stuck", resource: { "prefect.resource.id": resource } }])).status).toBe(204);
      await eventually(async () => (await refusal.attempts()) >= MAX_EVALUATION_ATTEMPTS, 20_000, "every attempt to fail");
    } finally {
      await refusal.allow();
    }
    await h.emit("test.retry.stuck", resource);
    await h.settle();
    expect(h.triggers.engine!.hasSeen(stuck)).toBe(false);
  }, 30_000);

  it("the batch is evaluated again once the database takes the writes, and the trigger fires once", async () => {
    const kysely = h.server.db.kysely;
    const resource = `test.retry.${randomUUID()}`;
    const created = await h.automation({ name: "retry", trigger: { posture: "Reactive", expect: ["test.retry.boom"], match: { "prefect.resource.id": resource }, threshold: 1, within: 60 }, actions: [{ type: "do-nothing" }] });
    const refusal = await refuseWindows();
    try {
      await h.emit("test.retry.boom", resource);
      await eventually(async () => (await refusal.attempts()) >= 1, 10_000, "an evaluation to fail");
    } finally {
      await refusal.allow();
    }
    await h.settle();
    const states = await kysely.selectFrom("automation_trigger_state").select("triggered_at").where("automation_id", "=", created.id).execute();
    expect(states).toHaveLength(1);
    const executed = await h.events("prefect.automation.action.executed", `prefect.automation.${created.id}`, 1);
    expect(executed).toHaveLength(1);
  });
});
