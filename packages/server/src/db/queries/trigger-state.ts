import type { ReceivedEvent } from "@baton/core";
import { sql, type Selectable } from "kysely";
import type { Executor } from "../database.js";
import { fromJson, newId, toJson } from "../json.js";
import type { AutomationBucketTable, AutomationTriggerStateTable } from "../schema.js";

/**
 * The persisted state of event triggers (one open bucket per trigger and `for_each` key) and
 * of composite triggers (the child firings collected so far), as Prefect keeps them in
 * `automation_bucket` and `composite_trigger_child_firing`. Every change is one statement,
 * stamped (`created`, `updated`) with the time the caller's clock gives.
 */

export interface Bucket {
  automationId: string;
  triggerId: string;
  bucketingKey: string[];
  start: Date;
  end: Date;
  count: number;
  lastEvent: ReceivedEvent | null;
  lastOperation: string | null;
}

export interface BucketRef {
  automationId: string;
  triggerId: string;
  bucketingKey: readonly string[];
}

function bucketFromRow(row: Selectable<AutomationBucketTable>): Bucket {
  return {
    automationId: row.automation_id,
    triggerId: row.trigger_id,
    bucketingKey: fromJson<string[]>(row.bucketing_key, []),
    start: new Date(row.bucket_start),
    end: new Date(row.bucket_end),
    count: Number(row.count),
    lastEvent: fromJson<ReceivedEvent | null>(row.last_event, null),
    lastOperation: row.last_operation,
  };
}

const keyText = (key: readonly string[]): string => JSON.stringify(key);

export async function readBucket(db: Executor, ref: BucketRef): Promise<Bucket | undefined> {
  const row = await db
    .selectFrom("automation_bucket")
    .selectAll()
    .where("automation_id", "=", ref.automationId)
    .where("trigger_id", "=", ref.triggerId)
    .where("bucketing_key", "=", keyText(ref.bucketingKey))
    .executeTakeFirst();
  return row && bucketFromRow(row);
}

function newRow(at: Date, ref: BucketRef, start: Date, end: Date, count: number, lastEvent: ReceivedEvent | null, operation: string, triggeredAt: Date | null = null) {
  const now = at.toISOString();
  return {
    id: newId(),
    created: now,
    updated: now,
    automation_id: ref.automationId,
    trigger_id: ref.triggerId,
    bucketing_key: keyText(ref.bucketingKey),
    last_event: lastEvent ? toJson(lastEvent) : null,
    bucket_start: start.toISOString(),
    bucket_end: end.toISOString(),
    count,
    last_operation: operation,
    triggered_at: triggeredAt?.toISOString() ?? null,
  };
}

/** The bucket for `ref`, created with these bounds if there is none (an existing one keeps its bounds and count). */
export async function ensureBucket(db: Executor, now: Date, ref: BucketRef, start: Date, end: Date, lastEvent: ReceivedEvent | null, initialCount = 0): Promise<Bucket> {
  const row = await db
    .insertInto("automation_bucket")
    .values(newRow(now, ref, start, end, initialCount, lastEvent, "ensure_bucket[insert]"))
    .onConflict((oc) =>
      oc.columns(["automation_id", "trigger_id", "bucketing_key"]).doUpdateSet(
        lastEvent ? { last_event: toJson(lastEvent) } : { count: sql<number>`automation_bucket.count` },
      ),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
  return bucketFromRow(row);
}

/** Adds `count` to the bucket in one statement. */
export async function incrementBucket(db: Executor, now: Date, bucket: Bucket, count: number, lastEvent: ReceivedEvent | null): Promise<Bucket> {
  const row = await db
    .insertInto("automation_bucket")
    .values(newRow(now, bucket, bucket.start, bucket.end, count, lastEvent, "increment_bucket[insert]"))
    .onConflict((oc) =>
      oc.columns(["automation_id", "trigger_id", "bucketing_key"]).doUpdateSet({
        count: sql<number>`automation_bucket.count + ${count}`,
        last_operation: "increment_bucket[update]",
        updated: now.toISOString(),
        ...(lastEvent ? { last_event: toJson(lastEvent) } : {}),
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
  return bucketFromRow(row);
}

/** Replaces the bucket for `ref` with a new window. */
export async function startNewBucket(db: Executor, now: Date, ref: BucketRef, start: Date, end: Date, count: number, lastEvent: ReceivedEvent | null = null): Promise<Bucket> {
  const values = newRow(now, ref, start, end, count, lastEvent, "start_new_bucket[insert]");
  const row = await db
    .insertInto("automation_bucket")
    .values(values)
    .onConflict((oc) =>
      oc.columns(["automation_id", "trigger_id", "bucketing_key"]).doUpdateSet({
        bucket_start: values.bucket_start,
        bucket_end: values.bucket_end,
        count,
        last_event: values.last_event,
        last_operation: "start_new_bucket[update]",
        updated: values.updated,
      }),
    )
    .returningAll()
    .executeTakeFirstOrThrow();
  return bucketFromRow(row);
}

/**
 * Removes the window `bucket` if it is still the one stored, as read (same bounds and count),
 * and says whether it was. Two servers evaluating the same window both read it; only the one
 * that removes it may fire for it (on PostgreSQL the other's DELETE waits for the first to
 * commit, then finds the row gone or replaced by the next window).
 */
export async function takeBucket(db: Executor, bucket: Bucket): Promise<boolean> {
  const result = await db
    .deleteFrom("automation_bucket")
    .where("automation_id", "=", bucket.automationId)
    .where("trigger_id", "=", bucket.triggerId)
    .where("bucketing_key", "=", keyText(bucket.bucketingKey))
    .where("bucket_start", "=", bucket.start.toISOString())
    .where("bucket_end", "=", bucket.end.toISOString())
    .where("count", "=", bucket.count)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function removeBucket(db: Executor, ref: BucketRef): Promise<void> {
  await db
    .deleteFrom("automation_bucket")
    .where("automation_id", "=", ref.automationId)
    .where("trigger_id", "=", ref.triggerId)
    .where("bucketing_key", "=", keyText(ref.bucketingKey))
    .execute();
}

/** Proactive triggers: buckets that already saw enough events can never fire, so they go at once. */
export async function removeBucketsReaching(db: Executor, automationId: string, triggerId: string, threshold: number): Promise<void> {
  await db.deleteFrom("automation_bucket").where("automation_id", "=", automationId).where("trigger_id", "=", triggerId).where("count", ">=", threshold).execute();
}

export async function readBucketsForTrigger(db: Executor, automationId: string, triggerId: string): Promise<Bucket[]> {
  const rows = await db
    .selectFrom("automation_bucket")
    .selectAll()
    .where("automation_id", "=", automationId)
    .where("trigger_id", "=", triggerId)
    .orderBy("bucket_start")
    .execute();
  return rows.map(bucketFromRow);
}

/** Buckets whose window closed before `olderThan` (with no proactive meaning left) are dropped. */
export async function sweepClosedBuckets(db: Executor, olderThan: Date): Promise<void> {
  await db.deleteFrom("automation_bucket").where("bucket_end", "<=", olderThan.toISOString()).execute();
}

// ---- Composite triggers ---------------------------------------------------------------

export interface ChildFiringRow<F> {
  childTriggerId: string;
  firingId: string;
  firedAt: Date;
  firing: F;
}

/** Records a child's firing; a newer firing of the same child replaces the older one. */
export async function upsertChildFiring(db: Executor, at: Date, automationId: string, parentTriggerId: string, childTriggerId: string, firingId: string, firedAt: Date, firing: unknown): Promise<void> {
  const now = at.toISOString();
  await db
    .insertInto("composite_trigger_child_firing")
    .values({
      id: newId(),
      created: now,
      updated: now,
      automation_id: automationId,
      parent_trigger_id: parentTriggerId,
      child_trigger_id: childTriggerId,
      child_firing_id: firingId,
      child_fired_at: firedAt.toISOString(),
      child_firing: toJson(firing),
    })
    .onConflict((oc) =>
      oc.columns(["automation_id", "parent_trigger_id", "child_trigger_id"]).doUpdateSet({
        child_firing_id: firingId,
        child_fired_at: firedAt.toISOString(),
        child_firing: toJson(firing),
        updated: now,
      }),
    )
    .execute();
}

export async function readChildFirings<F>(db: Executor, automationId: string, parentTriggerId: string): Promise<Array<ChildFiringRow<F>>> {
  const rows = await db
    .selectFrom("composite_trigger_child_firing")
    .selectAll()
    .where("automation_id", "=", automationId)
    .where("parent_trigger_id", "=", parentTriggerId)
    .orderBy("child_fired_at")
    .execute();
  return rows.map((row) => ({ childTriggerId: row.child_trigger_id, firingId: row.child_firing_id, firedAt: new Date(row.child_fired_at), firing: fromJson<F>(row.child_firing, null as F) }));
}

export async function clearChildFirings(db: Executor, automationId: string, parentTriggerId: string, firingIds: readonly string[]): Promise<void> {
  if (firingIds.length === 0) return;
  await db
    .deleteFrom("composite_trigger_child_firing")
    .where("automation_id", "=", automationId)
    .where("parent_trigger_id", "=", parentTriggerId)
    .where("child_firing_id", "in", firingIds)
    .execute();
}

export async function clearOldChildFirings(db: Executor, automationId: string, parentTriggerId: string, olderThan: Date): Promise<void> {
  await db
    .deleteFrom("composite_trigger_child_firing")
    .where("automation_id", "=", automationId)
    .where("parent_trigger_id", "=", parentTriggerId)
    .where("child_fired_at", "<", olderThan.toISOString())
    .execute();
}

// ---- Triggered states: triggers that fired and have not resolved ---------------------------------

export interface Triggered<F> {
  automationId: string;
  triggerId: string;
  bucketingKey: string[];
  triggeredAt: Date;
  /** When a Reactive trigger resolves unless it fires again first; null for the others. */
  resolveAt: Date | null;
  firing: F;
}

function triggeredFromRow<F>(row: Selectable<AutomationTriggerStateTable>): Triggered<F> {
  return {
    automationId: row.automation_id,
    triggerId: row.trigger_id,
    bucketingKey: fromJson<string[]>(row.bucketing_key, []),
    triggeredAt: new Date(row.triggered_at),
    resolveAt: row.resolve_at == null ? null : new Date(row.resolve_at),
    firing: fromJson<F>(row.firing, null as F),
  };
}

export async function readTriggered<F>(db: Executor, ref: BucketRef): Promise<Triggered<F> | undefined> {
  const row = await db
    .selectFrom("automation_trigger_state")
    .selectAll()
    .where("automation_id", "=", ref.automationId)
    .where("trigger_id", "=", ref.triggerId)
    .where("bucketing_key", "=", keyText(ref.bucketingKey))
    .executeTakeFirst();
  return row && triggeredFromRow<F>(row);
}

/** Puts the trigger in the Triggered state for `ref`, or moves its resolution later when it already was (it fired again). */
export async function markTriggered(db: Executor, at: Date, ref: BucketRef, triggeredAt: Date, resolveAt: Date | null, firing: unknown): Promise<void> {
  const now = at.toISOString();
  const values = {
    triggered_at: triggeredAt.toISOString(),
    resolve_at: resolveAt?.toISOString() ?? null,
    firing: toJson(firing),
    updated: now,
  };
  await db
    .insertInto("automation_trigger_state")
    .values({ id: newId(), created: now, automation_id: ref.automationId, trigger_id: ref.triggerId, bucketing_key: keyText(ref.bucketingKey), ...values })
    .onConflict((oc) => oc.columns(["automation_id", "trigger_id", "bucketing_key"]).doUpdateSet(values))
    .execute();
}

/**
 * The Triggered state an evaluation read, that a resolution must still find to act on it:
 * `triggeredAt` as read, and for a Reactive trigger's quiet-window resolution, still due by
 * `dueBy`. A trigger that fired again meanwhile (another server) is left Triggered.
 */
export interface TriggeredExpectation {
  triggeredAt?: Date;
  dueBy?: Date;
}

/**
 * Resolves: removes the Triggered state, and says whether there was one (so only one
 * evaluation acts on a resolution). With `expected`, only if the state is still the one read
 * (a compare-and-set): a server acting on a stale read resolves nothing.
 */
export async function clearTriggered(db: Executor, ref: BucketRef, expected: TriggeredExpectation = {}): Promise<boolean> {
  let query = db
    .deleteFrom("automation_trigger_state")
    .where("automation_id", "=", ref.automationId)
    .where("trigger_id", "=", ref.triggerId)
    .where("bucketing_key", "=", keyText(ref.bucketingKey));
  if (expected.triggeredAt) query = query.where("triggered_at", "=", expected.triggeredAt.toISOString());
  if (expected.dueBy) query = query.where("resolve_at", "<=", expected.dueBy.toISOString());
  const result = await query.executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Reactive triggers whose resolution is due by `asOf` (uses ix_automation_trigger_state_resolve_at). */
export async function readTriggeredDue<F>(db: Executor, asOf: Date): Promise<Array<Triggered<F>>> {
  const rows = await db.selectFrom("automation_trigger_state").selectAll().where("resolve_at", "<=", asOf.toISOString()).orderBy("resolve_at").execute();
  return rows.map((row) => triggeredFromRow<F>(row));
}

/** Which of `triggerIds` are Triggered for at least one key. */
export async function readTriggeredAmong(db: Executor, automationId: string, triggerIds: readonly string[]): Promise<Set<string>> {
  if (triggerIds.length === 0) return new Set();
  const rows = await db
    .selectFrom("automation_trigger_state")
    .select("trigger_id")
    .distinct()
    .where("automation_id", "=", automationId)
    .where("trigger_id", "in", triggerIds)
    .execute();
  return new Set(rows.map((row) => row.trigger_id));
}
