import {
  ConflictError,
  InvalidInputError,
  ObjectNotFoundError,
  type AcquireMode,
  type ConcurrencyLeaseHolder,
  type ConcurrencyLimitV2,
  type ConcurrencyLimitV2Create,
  type ConcurrencyLimitV2Update,
  type MinimalConcurrencyLimit,
} from "@baton/core";
import { sql, type Selectable } from "kysely";
import type { Database, Executor } from "../database.js";
import { fromJson, newId, toBool, toJson } from "../json.js";
import type { ConcurrencyLimitV2Table } from "../schema.js";
import { pageLimit } from "./paging.js";

type LimitRow = Selectable<ConcurrencyLimitV2Table>;

/** A new limit's guess at how long a slot is held, before any holder has reported one (Prefect's default). */
const INITIAL_OCCUPANCY_SECONDS = 2;
/** Retry-After never asks for less (a busy loop) or more (a lost minute) than this. */
const MIN_RETRY_AFTER_SECONDS = 0.01;
// Long holds are still polled every few seconds: the estimate is only as good as the
// occupancy average, which starts at a guess.
const MAX_RETRY_AFTER_SECONDS = 5;
/** How much one reported occupancy moves the average (an exponential moving average). */
const OCCUPANCY_WEIGHT = 0.2;
/** Below this a slot count is rounding noise of the decay arithmetic, not a slot. */
const EPSILON = 1e-9;

/** The slots in use at `nowSeconds`, after the decay since they were last counted. */
export function slotsAt(row: LimitRow, nowSeconds: number): { active: number; denied: number } {
  const elapsed = Math.max(0, nowSeconds - row.slots_at);
  const active = row.slot_decay_per_second > 0 ? Math.max(0, row.active_slots - row.slot_decay_per_second * elapsed) : row.active_slots;
  // Denied slots (callers waiting) drain at the rate slots come free: the decay of a rate
  // limit, or `limit` slots per average occupancy for a concurrency limit.
  const denied = Math.max(0, row.denied_slots - freeingRate(row) * elapsed);
  return { active, denied };
}

function freeingRate(row: Pick<LimitRow, "limit" | "slot_decay_per_second" | "avg_slot_occupancy_seconds">): number {
  if (row.slot_decay_per_second > 0) return row.slot_decay_per_second;
  return Math.max(row.limit, 1) / Math.max(row.avg_slot_occupancy_seconds, 0.001);
}

/** Whole slots as the API reports them: a slot partly decayed is still taken. */
function whole(slots: number): number {
  return Math.ceil(slots - EPSILON);
}

export function limitFromRow(row: LimitRow, nowSeconds = Date.now() / 1000): ConcurrencyLimitV2 {
  const { active, denied } = slotsAt(row, nowSeconds);
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    active: row.active === 1,
    name: row.name,
    limit: row.limit,
    active_slots: whole(active),
    denied_slots: whole(denied),
    slot_decay_per_second: row.slot_decay_per_second,
    avg_slot_occupancy_seconds: row.avg_slot_occupancy_seconds,
  };
}

function minimal(row: LimitRow): MinimalConcurrencyLimit {
  return { id: row.id, name: row.name, limit: row.limit };
}

function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

function duplicateName(name: string): ConflictError {
  return new ConflictError(`A concurrency limit with the name '${name}' already exists`);
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** `{id_or_name}` paths: a UUID is looked up as an id first, then as a name. */
async function findRow(db: Executor, idOrName: string, forUpdate = false): Promise<LimitRow | undefined> {
  const lookup = (column: "id" | "name", value: string) => {
    const query = db.selectFrom("concurrency_limit_v2").selectAll().where(column, "=", value);
    return (forUpdate ? query.forUpdate() : query).executeTakeFirst();
  };
  if (UUID.test(idOrName)) {
    const byId = await lookup("id", idOrName.toLowerCase());
    if (byId) return byId;
  }
  return lookup("name", idOrName);
}

export async function createGlobalLimit(db: Executor, input: ConcurrencyLimitV2Create, now = new Date()): Promise<ConcurrencyLimitV2> {
  const stamp = now.toISOString();
  const row = await db
    .insertInto("concurrency_limit_v2")
    .values({
      id: newId(),
      created: stamp,
      updated: stamp,
      active: toBool(input.active),
      name: input.name,
      limit: input.limit,
      active_slots: input.active_slots,
      denied_slots: input.denied_slots,
      slot_decay_per_second: input.slot_decay_per_second,
      avg_slot_occupancy_seconds: INITIAL_OCCUPANCY_SECONDS,
      slots_at: now.getTime() / 1000,
    })
    .onConflict((oc) => oc.column("name").doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) throw duplicateName(input.name);
  return limitFromRow(row, now.getTime() / 1000);
}

export async function readGlobalLimit(db: Executor, idOrName: string): Promise<ConcurrencyLimitV2> {
  const row = await findRow(db, idOrName);
  if (!row) throw new ObjectNotFoundError("Concurrency limit", idOrName);
  return limitFromRow(row);
}

export async function filterGlobalLimits(db: Executor, page: { offset: number; limit?: number | null | undefined }): Promise<ConcurrencyLimitV2[]> {
  const rows = await db.selectFrom("concurrency_limit_v2").selectAll().orderBy("name").limit(pageLimit(page.limit)).offset(page.offset).execute();
  const now = Date.now() / 1000;
  return rows.map((row) => limitFromRow(row, now));
}

/**
 * Updates a limit. Setting `active_slots` or `denied_slots` sets the count as of now; changing
 * the decay first brings the counts up to date under the old rate.
 */
export async function updateGlobalLimit(db: Database, idOrName: string, patch: ConcurrencyLimitV2Update): Promise<void> {
  try {
    await db.write(async (trx) => {
      const row = await findRow(trx, idOrName, db.dialect.supportsRowLocks);
      if (!row) throw new ObjectNotFoundError("Concurrency limit", idOrName);
      const now = new Date();
      const counted = slotsAt(row, now.getTime() / 1000);
      await trx
        .updateTable("concurrency_limit_v2")
        .set({
          updated: now.toISOString(),
          active: patch.active == null ? row.active : toBool(patch.active),
          name: patch.name ?? row.name,
          limit: patch.limit ?? row.limit,
          active_slots: patch.active_slots ?? counted.active,
          denied_slots: patch.denied_slots ?? counted.denied,
          slot_decay_per_second: patch.slot_decay_per_second ?? row.slot_decay_per_second,
          slots_at: now.getTime() / 1000,
        })
        .where("id", "=", row.id)
        .execute();
    });
  } catch (error) {
    if (patch.name != null && isUniqueViolation(error)) throw duplicateName(patch.name);
    throw error;
  }
}

export async function deleteGlobalLimit(db: Executor, idOrName: string): Promise<void> {
  const row = await findRow(db, idOrName);
  if (!row) throw new ObjectNotFoundError("Concurrency limit", idOrName);
  await db.deleteFrom("concurrency_limit_v2").where("id", "=", row.id).execute();
}

export interface AcquireRequest {
  names: readonly string[];
  slots: number;
  mode: AcquireMode;
  /** Take the slots under a lease of this many seconds, so that they come back if the holder dies. */
  lease?: { durationSeconds: number; holder: ConcurrencyLeaseHolder | null | undefined };
}

export type AcquireOutcome =
  | { acquired: true; limits: MinimalConcurrencyLimit[]; leaseId: string | undefined }
  | { acquired: false; retryAfterSeconds: number; blocking: string[] };

/**
 * Takes `slots` of every active limit named, all or none, in one write transaction. Limits
 * that do not exist or are inactive are skipped (as Prefect does), so code guarded by a
 * limit nobody created runs unguarded. A refusal is counted in `denied_slots` and answered
 * with when to try again; it is not an error here so that the count survives (a thrown error
 * would roll it back).
 *
 * On PostgreSQL the limit rows are locked in id order, so two acquisitions of overlapping
 * sets cannot deadlock; on SQLite the write transaction already excludes other writers.
 */
export async function acquireSlots(db: Database, request: AcquireRequest, at?: Date): Promise<AcquireOutcome> {
  if (db.dialect.name === "postgres" && request.mode === "concurrency") return acquireInOneStatement(db, request, at);
  return db.write(async (trx) => {
    let query = trx.selectFrom("concurrency_limit_v2").selectAll().where("name", "in", [...new Set(request.names)]).orderBy("id");
    if (db.dialect.supportsRowLocks) query = query.forUpdate();
    const rows = (await query.execute()).filter((row) => row.active === 1);
    // The time is read once the rows are locked: a time read before waiting for the lock
    // could be older than the count another writer just stored, and decay would be counted twice.
    const now = at ?? new Date();
    const nowSeconds = now.getTime() / 1000;
    if (request.mode === "rate_limit") {
      const undecayed = rows.filter((row) => row.slot_decay_per_second <= 0).map((row) => row.name);
      if (undecayed.length > 0) {
        throw new InvalidInputError("body.mode", `only concurrency limits with slot decay can be used for rate limiting; ${undecayed.map((n) => `'${n}'`).join(", ")} has none`);
      }
    }
    for (const row of rows) {
      if (request.slots > row.limit) {
        throw new InvalidInputError("body.slots", `${request.slots} slots requested, more than the limit '${row.name}' has (${row.limit})`);
      }
    }
    const counts = rows.map((row) => ({ row, ...slotsAt(row, nowSeconds) }));
    const blocking = counts.filter((c) => c.active + request.slots > c.row.limit + EPSILON);
    const stamp = now.toISOString();
    if (blocking.length > 0) {
      for (const c of counts) {
        await trx
          .updateTable("concurrency_limit_v2")
          .set({ active_slots: c.active, denied_slots: c.denied + request.slots, slots_at: nowSeconds })
          .where("id", "=", c.row.id)
          .execute();
      }
      return { acquired: false, retryAfterSeconds: retryAfter(blocking, request.slots), blocking: blocking.map((c) => c.row.name) };
    }
    for (const c of counts) {
      await trx
        .updateTable("concurrency_limit_v2")
        .set({ active_slots: c.active + request.slots, denied_slots: c.denied, slots_at: nowSeconds, updated: stamp })
        .where("id", "=", c.row.id)
        .execute();
    }
    let leaseId: string | undefined;
    if (request.lease) {
      leaseId = newId();
      await trx
        .insertInto("concurrency_lease")
        .values({
          id: leaseId,
          created: stamp,
          expiration: new Date(now.getTime() + request.lease.durationSeconds * 1000).toISOString(),
          resource_ids: toJson(rows.map((row) => row.id)),
          slots: request.slots,
          holder: request.lease.holder ? toJson(request.lease.holder) : null,
        })
        .execute();
    }
    return { acquired: true, limits: rows.map(minimal), leaseId };
  });
}

interface CountedRow {
  id: string;
  name: string;
  limit: number;
  active: number;
  denied: number;
  slot_decay_per_second: number;
  avg_slot_occupancy_seconds: number;
  granted: boolean;
  too_many: boolean;
}

/**
 * PostgreSQL's acquisition of concurrency slots in one statement (one round trip instead of
 * five: BEGIN, lock, update, lease, COMMIT), the hot path of `concurrency()`: lock the named
 * limits in id order, count their slots now (the same decay as `slotsAt`), and either take the
 * slots on all of them and insert the lease, or count the refusal, all or none. The time is
 * the caller's, so a row stored by a writer we waited for may be newer: elapsed time is then
 * 0 and `slots_at` never moves back. Uses the primary key and the unique index on `name`.
 */
async function acquireInOneStatement(db: Database, request: AcquireRequest, at?: Date): Promise<AcquireOutcome> {
  const now = at ?? new Date();
  const nowSeconds = now.getTime() / 1000;
  const stamp = now.toISOString();
  const leaseId = request.lease ? newId() : null;
  const expiration = request.lease ? new Date(now.getTime() + request.lease.durationSeconds * 1000).toISOString() : null;
  const holder = request.lease?.holder ? toJson(request.lease.holder) : null;
  const names = [...new Set(request.names)];
  const result = await sql<CountedRow>`
    WITH locked AS (
      SELECT * FROM concurrency_limit_v2 WHERE name = ANY(${names}::text[]) AND active = 1 ORDER BY id FOR UPDATE
    ), counted AS (
      SELECT id, name, "limit", avg_slot_occupancy_seconds, slot_decay_per_second, GREATEST(slots_at, ${nowSeconds}::float8) AS counted_at,
        CASE WHEN slot_decay_per_second > 0
          THEN GREATEST(0, active_slots - slot_decay_per_second * GREATEST(0, ${nowSeconds}::float8 - slots_at))
          ELSE active_slots END AS active,
        GREATEST(0, denied_slots - (CASE WHEN slot_decay_per_second > 0 THEN slot_decay_per_second
          ELSE GREATEST("limit", 1) / GREATEST(avg_slot_occupancy_seconds, 0.001) END) * GREATEST(0, ${nowSeconds}::float8 - slots_at)) AS denied
      FROM locked
    ), verdict AS (
      SELECT COALESCE(bool_and(active + ${request.slots}::int <= "limit" + ${EPSILON}::float8), true) AS granted,
        COALESCE(bool_or(${request.slots}::int > "limit"), false) AS too_many
      FROM counted
    ), changed AS (
      UPDATE concurrency_limit_v2 c SET
        active_slots = CASE WHEN v.granted THEN k.active + ${request.slots}::int ELSE k.active END,
        denied_slots = CASE WHEN v.granted THEN k.denied ELSE k.denied + ${request.slots}::int END,
        slots_at = k.counted_at,
        updated = CASE WHEN v.granted THEN ${stamp}::timestamptz ELSE c.updated END
      FROM counted k, verdict v
      WHERE c.id = k.id AND NOT v.too_many
      RETURNING c.id
    ), lease AS (
      INSERT INTO concurrency_lease (id, created, expiration, resource_ids, slots, holder)
      SELECT ${leaseId}::uuid, ${stamp}::timestamptz, ${expiration}::timestamptz,
        (SELECT COALESCE(jsonb_agg(id ORDER BY id), '[]'::jsonb) FROM counted), ${request.slots}::int, ${holder}::jsonb
      FROM verdict v WHERE ${leaseId}::uuid IS NOT NULL AND v.granted AND NOT v.too_many
      RETURNING id
    )
    SELECT k.id, k.name, k."limit", k.active, k.denied, k.slot_decay_per_second, k.avg_slot_occupancy_seconds, v.granted, v.too_many,
      (SELECT count(*) FROM changed) AS changed, (SELECT count(*) FROM lease) AS leased
    FROM verdict v LEFT JOIN counted k ON true
    ORDER BY k.id
  `.execute(db.reserved);
  const rows = result.rows.filter((row) => row.id !== null);
  const verdict = result.rows[0];
  if (verdict?.too_many) {
    const row = rows.find((r) => request.slots > r.limit)!;
    throw new InvalidInputError("body.slots", `${request.slots} slots requested, more than the limit '${row.name}' has (${row.limit})`);
  }
  if (verdict?.granted !== false) {
    return { acquired: true, limits: rows.map((row) => ({ id: row.id, name: row.name, limit: row.limit })), leaseId: leaseId ?? undefined };
  }
  const blocking = rows
    .filter((row) => row.active + request.slots > row.limit + EPSILON)
    .map((row) => ({ row: { limit: row.limit, slot_decay_per_second: row.slot_decay_per_second, avg_slot_occupancy_seconds: row.avg_slot_occupancy_seconds, name: row.name }, denied: row.denied }));
  return { acquired: false, retryAfterSeconds: retryAfter(blocking, request.slots), blocking: blocking.map((c) => c.row.name) };
}

/**
 * When trying again is likely to succeed: the callers already waiting (denied slots) plus
 * this one, divided by the rate at which slots come free, for the slowest blocking limit;
 * with ±20% jitter so that a crowd refused together does not come back together.
 */
function retryAfter(blocking: Array<{ row: Pick<LimitRow, "limit" | "slot_decay_per_second" | "avg_slot_occupancy_seconds">; denied: number }>, slots: number): number {
  let seconds = 0;
  for (const c of blocking) seconds = Math.max(seconds, (c.denied + slots) / freeingRate(c.row));
  seconds *= 0.8 + Math.random() * 0.4;
  return Math.min(MAX_RETRY_AFTER_SECONDS, Math.max(MIN_RETRY_AFTER_SECONDS, seconds));
}

/** Gives back `slots` of each limit; a reported occupancy updates the limit's running average. */
async function giveBack(trx: Executor, db: Database, ids: readonly string[], slots: number, occupancySeconds: number | null | undefined, now: Date): Promise<LimitRow[]> {
  if (ids.length === 0) return [];
  let query = trx.selectFrom("concurrency_limit_v2").selectAll().where("id", "in", [...ids]).orderBy("id");
  if (db.dialect.supportsRowLocks) query = query.forUpdate();
  const rows = await query.execute();
  const nowSeconds = Math.max(now.getTime(), Date.now()) / 1000;
  for (const row of rows) {
    const counted = slotsAt(row, nowSeconds);
    const average =
      occupancySeconds == null ? row.avg_slot_occupancy_seconds : row.avg_slot_occupancy_seconds + (occupancySeconds - row.avg_slot_occupancy_seconds) * OCCUPANCY_WEIGHT;
    await trx
      .updateTable("concurrency_limit_v2")
      .set({ active_slots: Math.max(0, counted.active - slots), denied_slots: counted.denied, slots_at: nowSeconds, avg_slot_occupancy_seconds: average })
      .where("id", "=", row.id)
      .execute();
  }
  return rows;
}

/** Releases slots taken without a lease; limits that do not exist or are inactive are skipped. */
export async function releaseSlots(
  db: Database,
  request: { names: readonly string[]; slots: number; occupancySeconds?: number | null | undefined },
  now = new Date(),
): Promise<MinimalConcurrencyLimit[]> {
  return db.write(async (trx) => {
    const rows = await trx.selectFrom("concurrency_limit_v2").select(["id", "active"]).where("name", "in", [...new Set(request.names)]).execute();
    const ids = rows.filter((row) => row.active === 1).map((row) => row.id);
    return (await giveBack(trx, db, ids, request.slots, request.occupancySeconds, now)).map(minimal);
  });
}

/**
 * Ends a lease and gives back its slots, once: the lease row is deleted first and the slots
 * are only returned by whoever deleted it, so a holder releasing while the expiry service
 * reaps the same lease cannot give them back twice. False when the lease no longer exists.
 */
export async function releaseLease(db: Database, leaseId: string, options: { now?: Date; expired?: boolean } = {}): Promise<boolean> {
  const now = options.now ?? new Date();
  if (db.dialect.name === "postgres") return releaseLeaseInOneStatement(db, leaseId, now, options.expired ?? false);
  return db.write(async (trx) => {
    const lease = await trx.deleteFrom("concurrency_lease").where("id", "=", leaseId).returningAll().executeTakeFirst();
    if (!lease) return false;
    // An expired lease's holder did not say how long it held the slots, so it does not
    // count towards the average.
    const occupancy = options.expired ? null : Math.max(0.001, (now.getTime() - Date.parse(lease.created)) / 1000);
    await giveBack(trx, db, fromJson<string[]>(lease.resource_ids, []), lease.slots, occupancy, now);
    return true;
  });
}

/**
 * PostgreSQL's `releaseLease` in one statement: delete the lease and give its slots back to
 * its limits (locked in id order; the counts and the occupancy average as `giveBack` computes
 * them), so that releasing is one round trip, like acquiring.
 */
async function releaseLeaseInOneStatement(db: Database, leaseId: string, now: Date, expired: boolean): Promise<boolean> {
  const nowSeconds = Math.max(now.getTime(), Date.now()) / 1000;
  const releasedSeconds = now.getTime() / 1000;
  const result = await sql<{ released: string }>`
    WITH gone AS (
      DELETE FROM concurrency_lease WHERE id = ${leaseId}::uuid RETURNING resource_ids, slots, created
    ), locked AS (
      SELECT c.* FROM concurrency_limit_v2 c
      WHERE c.id IN (SELECT jsonb_array_elements_text(resource_ids)::uuid FROM gone)
      ORDER BY c.id FOR UPDATE OF c
    ), changed AS (
      UPDATE concurrency_limit_v2 c SET
        active_slots = GREATEST(0, (CASE WHEN l.slot_decay_per_second > 0
          THEN GREATEST(0, l.active_slots - l.slot_decay_per_second * GREATEST(0, ${nowSeconds}::float8 - l.slots_at))
          ELSE l.active_slots END) - g.slots),
        denied_slots = GREATEST(0, l.denied_slots - (CASE WHEN l.slot_decay_per_second > 0 THEN l.slot_decay_per_second
          ELSE GREATEST(l."limit", 1) / GREATEST(l.avg_slot_occupancy_seconds, 0.001) END) * GREATEST(0, ${nowSeconds}::float8 - l.slots_at)),
        slots_at = GREATEST(l.slots_at, ${nowSeconds}::float8),
        avg_slot_occupancy_seconds = CASE WHEN ${expired}::boolean THEN l.avg_slot_occupancy_seconds
          ELSE l.avg_slot_occupancy_seconds + (GREATEST(0.001, ${releasedSeconds}::float8 - extract(epoch FROM g.created)) - l.avg_slot_occupancy_seconds) * ${OCCUPANCY_WEIGHT}::float8 END
      FROM locked l, gone g
      WHERE c.id = l.id
      RETURNING c.id
    )
    SELECT (SELECT count(*) FROM gone) AS released, (SELECT count(*) FROM changed) AS changed
  `.execute(db.reserved);
  return Number(result.rows[0]?.released ?? 0) > 0;
}

/** Pushes a lease's expiration to `durationSeconds` from now; false when the lease is gone. */
export async function renewLease(db: Executor, leaseId: string, durationSeconds: number, now = new Date()): Promise<boolean> {
  const result = await db
    .updateTable("concurrency_lease")
    .set({ expiration: new Date(now.getTime() + durationSeconds * 1000).toISOString() })
    .where("id", "=", leaseId)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** Leases whose expiration has passed, oldest first. */
export async function expiredLeaseIds(db: Executor, now: Date, limit: number): Promise<string[]> {
  const rows = await db.selectFrom("concurrency_lease").select("id").where("expiration", "<", now.toISOString()).orderBy("expiration").limit(limit).execute();
  return rows.map((row) => row.id);
}
