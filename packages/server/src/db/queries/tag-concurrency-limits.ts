import { ObjectNotFoundError, SlotsUnavailableError, type MinimalConcurrencyLimit, type TagConcurrencyLimit } from "@baton/core";
import type { Selectable } from "kysely";
import type { Database, Executor } from "../database.js";
import { newId } from "../json.js";
import type { TagConcurrencyLimitTable } from "../schema.js";
import { pageLimit } from "./paging.js";

type TagLimitRow = Selectable<TagConcurrencyLimitTable>;

/** How long a task run refused a tag's slot waits before asking again (Prefect's default). */
export const TAG_SLOT_WAIT_SECONDS = 30;

async function withSlots(db: Executor, rows: TagLimitRow[]): Promise<TagConcurrencyLimit[]> {
  if (rows.length === 0) return [];
  const slots = await db
    .selectFrom("concurrency_limit_slot")
    .select(["limit_id", "task_run_id"])
    .where(
      "limit_id",
      "in",
      rows.map((row) => row.id),
    )
    .orderBy("created")
    .execute();
  const byLimit = new Map<string, string[]>();
  for (const slot of slots) {
    const list = byLimit.get(slot.limit_id) ?? [];
    list.push(slot.task_run_id);
    byLimit.set(slot.limit_id, list);
  }
  return rows.map((row) => ({
    id: row.id,
    created: row.created,
    updated: row.updated,
    tag: row.tag,
    concurrency_limit: row.concurrency_limit,
    active_slots: byLimit.get(row.id) ?? [],
  }));
}

/**
 * Creates the limit of a tag, or updates the limit if the tag has one (Prefect's create is
 * an upsert on the tag), keeping the slots already taken.
 */
export async function upsertTagLimit(db: Database, input: { tag: string; concurrency_limit: number }): Promise<TagConcurrencyLimit> {
  return db.write(async (trx) => {
    const now = new Date().toISOString();
    const row = await trx
      .insertInto("concurrency_limit")
      .values({ id: newId(), created: now, updated: now, tag: input.tag, concurrency_limit: input.concurrency_limit })
      .onConflict((oc) => oc.column("tag").doUpdateSet({ concurrency_limit: input.concurrency_limit, updated: now }))
      .returningAll()
      .executeTakeFirstOrThrow();
    const [limit] = await withSlots(trx, [row]);
    return limit!;
  });
}

export async function readTagLimit(db: Executor, by: { id: string } | { tag: string }): Promise<TagConcurrencyLimit> {
  const row = await db
    .selectFrom("concurrency_limit")
    .selectAll()
    .where("id" in by ? "id" : "tag", "=", "id" in by ? by.id : by.tag)
    .executeTakeFirst();
  if (!row) throw new ObjectNotFoundError("Concurrency limit", "id" in by ? by.id : by.tag);
  const [limit] = await withSlots(db, [row]);
  return limit!;
}

export async function filterTagLimits(db: Executor, page: { offset: number; limit?: number | null | undefined }): Promise<TagConcurrencyLimit[]> {
  const rows = await db.selectFrom("concurrency_limit").selectAll().orderBy("tag").limit(pageLimit(page.limit)).offset(page.offset).execute();
  return withSlots(db, rows);
}

export async function deleteTagLimit(db: Executor, by: { id: string } | { tag: string }): Promise<void> {
  const result = await db
    .deleteFrom("concurrency_limit")
    .where("id" in by ? "id" : "tag", "=", "id" in by ? by.id : by.tag)
    .executeTakeFirst();
  if (result.numDeletedRows === 0n) throw new ObjectNotFoundError("Concurrency limit", "id" in by ? by.id : by.tag);
}

/** Empties a tag's slots, or sets them to `slotOverride` (task run ids), as Prefect's reset does. */
export async function resetTagLimit(db: Database, tag: string, slotOverride: readonly string[] | null | undefined): Promise<void> {
  await db.write(async (trx) => {
    const row = await trx.selectFrom("concurrency_limit").select("id").where("tag", "=", tag).executeTakeFirst();
    if (!row) throw new ObjectNotFoundError("Concurrency limit", tag);
    await trx.deleteFrom("concurrency_limit_slot").where("limit_id", "=", row.id).execute();
    const now = new Date().toISOString();
    const ids = [...new Set(slotOverride ?? [])];
    if (ids.length > 0) {
      await trx
        .insertInto("concurrency_limit_slot")
        .values(ids.map((id) => ({ limit_id: row.id, task_run_id: id, created: now })))
        .execute();
    }
    await trx.updateTable("concurrency_limit").set({ updated: now }).where("id", "=", row.id).execute();
  });
}

export type TagSlotDecision = { ok: true; limits: MinimalConcurrencyLimit[] } | { ok: false; zeroLimit: string | undefined; fullTag: string | undefined };

/**
 * Inside a write transaction: takes a slot of every limited tag for the task run, or none.
 * A run that already holds a tag's slot keeps it (asking twice is not taking two). On
 * PostgreSQL the limit rows are locked, in id order, until the transaction ends.
 */
export async function takeTagSlots(trx: Executor, supportsRowLocks: boolean, tags: readonly string[], taskRunId: string): Promise<TagSlotDecision> {
  if (tags.length === 0) return { ok: true, limits: [] };
  let query = trx.selectFrom("concurrency_limit").selectAll().where("tag", "in", [...new Set(tags)]).orderBy("id");
  if (supportsRowLocks) query = query.forUpdate();
  const rows = await query.execute();
  if (rows.length === 0) return { ok: true, limits: [] };
  const zero = rows.find((row) => row.concurrency_limit === 0);
  if (zero) return { ok: false, zeroLimit: zero.tag, fullTag: undefined };
  const counts = await trx
    .selectFrom("concurrency_limit_slot")
    .select((eb) => ["limit_id", eb.fn.countAll<number>().as("n"), eb.fn.sum<number>(eb.case().when("task_run_id", "=", taskRunId).then(1).else(0).end()).as("mine")])
    .where(
      "limit_id",
      "in",
      rows.map((row) => row.id),
    )
    .groupBy("limit_id")
    .execute();
  const taken = new Map(counts.map((c) => [c.limit_id, { n: Number(c.n), mine: Number(c.mine) > 0 }]));
  const full = rows.find((row) => {
    const c = taken.get(row.id);
    return c !== undefined && !c.mine && c.n >= row.concurrency_limit;
  });
  if (full) return { ok: false, zeroLimit: undefined, fullTag: full.tag };
  const now = new Date().toISOString();
  const missing = rows.filter((row) => !taken.get(row.id)?.mine);
  if (missing.length > 0) {
    await trx
      .insertInto("concurrency_limit_slot")
      .values(missing.map((row) => ({ limit_id: row.id, task_run_id: taskRunId, created: now })))
      .execute();
  }
  return { ok: true, limits: rows.map((row) => ({ id: row.id, name: row.tag, limit: row.concurrency_limit })) };
}

/** Gives back the task run's slots of the named tags (all its slots when `tags` is undefined). */
export async function releaseTagSlots(db: Executor, taskRunId: string, tags?: readonly string[]): Promise<MinimalConcurrencyLimit[]> {
  let limits = db.selectFrom("concurrency_limit").selectAll();
  if (tags !== undefined) {
    if (tags.length === 0) return [];
    limits = limits.where("tag", "in", [...new Set(tags)]);
  }
  const rows = await limits
    .where("id", "in", (eb) => eb.selectFrom("concurrency_limit_slot").select("limit_id").where("task_run_id", "=", taskRunId))
    .execute();
  if (rows.length === 0) return [];
  await db
    .deleteFrom("concurrency_limit_slot")
    .where("task_run_id", "=", taskRunId)
    .where(
      "limit_id",
      "in",
      rows.map((row) => row.id),
    )
    .execute();
  return rows.map((row) => ({ id: row.id, name: row.tag, limit: row.concurrency_limit }));
}

/** `POST /concurrency_limits/increment`: the slots, or a 423 saying which tag is full. */
export async function incrementTagSlots(db: Database, tags: readonly string[], taskRunId: string): Promise<MinimalConcurrencyLimit[]> {
  const decision = await db.write((trx) => takeTagSlots(trx, db.dialect.supportsRowLocks, tags, taskRunId));
  if (decision.ok) return decision.limits;
  if (decision.zeroLimit !== undefined) {
    throw new SlotsUnavailableError(`The concurrency limit on tag '${decision.zeroLimit}' is 0 and will deadlock if the task tries to run again.`, undefined);
  }
  throw new SlotsUnavailableError(`Concurrency limit for the '${decision.fullTag}' tag has been reached`, TAG_SLOT_WAIT_SECONDS);
}
