import type { StatusChanges } from "../../events/status-events.js";
import { AGENT_POOL_TYPE, type Worker, type WorkerFilter, type WorkerStatus } from "@baton/core";
import { sql, type Expression, type ExpressionBuilder, type Selectable, type SqlBool } from "kysely";
import type { Executor } from "../database.js";
import { newId } from "../json.js";
import type { DB, WorkerTable } from "../schema.js";
import { pageLimit } from "./paging.js";
import type { WorkPoolRow } from "./work-pools.js";

export function workerFromRow(row: Selectable<WorkerTable>): Worker {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    work_pool_id: row.work_pool_id,
    last_heartbeat_time: row.last_heartbeat_time,
    heartbeat_interval_seconds: row.heartbeat_interval_seconds,
    status: row.status as WorkerStatus,
  };
}

/**
 * A worker says it is alive: it is created on its first heartbeat, becomes ONLINE, and its
 * pool (unless paused) becomes READY. One upsert, so concurrent heartbeats of the same
 * worker cannot collide. (The foreman service marks silent workers OFFLINE.)
 */
export async function recordHeartbeat(db: Executor, pool: WorkPoolRow, name: string, intervalSeconds: number | null | undefined, now: Date, changes?: StatusChanges): Promise<void> {
  const at = now.toISOString();
  const before = changes ? await db.selectFrom("worker").select("status").where("work_pool_id", "=", pool.id).where("name", "=", name).executeTakeFirst() : undefined;
  const changing = {
    updated: at,
    last_heartbeat_time: at,
    status: "ONLINE",
    ...(intervalSeconds == null ? {} : { heartbeat_interval_seconds: intervalSeconds }),
  };
  const row = await db
    .insertInto("worker")
    .values({ id: newId(), created: at, name, work_pool_id: pool.id, heartbeat_interval_seconds: intervalSeconds ?? null, ...changing })
    .onConflict((oc) => oc.columns(["work_pool_id", "name"]).doUpdateSet(changing))
    .returning("id")
    .executeTakeFirst();
  if (changes && before?.status !== "ONLINE" && row) changes.worker(row.id);
  if (pool.is_paused === 0 && pool.type !== AGENT_POOL_TYPE && pool.status !== "READY") {
    const woken = await db
      .updateTable("work_pool")
      .set({ status: "READY", updated: at })
      .where("id", "=", pool.id)
      .where("is_paused", "=", 0)
      .where((eb) => eb.or([eb("status", "is", null), eb("status", "!=", "READY")]))
      .returning("id")
      .execute();
    if (woken.length > 0) changes?.pool(pool.id);
  }
}

function workerConditions(eb: ExpressionBuilder<DB, "worker">, filter: WorkerFilter | null | undefined): Expression<SqlBool> | undefined {
  if (!filter) return undefined;
  const conds: Array<Expression<SqlBool>> = [];
  const heartbeat = filter.last_heartbeat_time;
  if (heartbeat?.before_ != null) conds.push(eb("worker.last_heartbeat_time", "<=", heartbeat.before_));
  if (heartbeat?.after_ != null) conds.push(eb("worker.last_heartbeat_time", ">=", heartbeat.after_));
  const any = filter.status?.any_;
  if (any != null) conds.push(any.length === 0 ? sql<SqlBool>`1 = 0` : eb("worker.status", "in", any));
  const none = filter.status?.not_any_;
  if (none != null && none.length > 0) conds.push(eb("worker.status", "not in", none));
  if (conds.length === 0) return undefined;
  return filter.operator === "or_" ? eb.or(conds) : eb.and(conds);
}

/** A pool's workers matching `filter`, most recent heartbeat first. */
export async function filterWorkers(
  db: Executor,
  poolId: string,
  filter: WorkerFilter | null | undefined,
  page: { limit?: number | null | undefined; offset: number },
): Promise<Worker[]> {
  const rows = await db
    .selectFrom("worker")
    .selectAll()
    .where("work_pool_id", "=", poolId)
    .where((eb) => workerConditions(eb, filter) ?? sql<SqlBool>`1 = 1`)
    .orderBy("last_heartbeat_time", (o) => o.desc().nullsLast())
    .orderBy("id")
    .limit(pageLimit(page.limit))
    .offset(page.offset)
    .execute();
  return rows.map(workerFromRow);
}

export async function deleteWorker(db: Executor, poolId: string, name: string): Promise<boolean> {
  const result = await db.deleteFrom("worker").where("work_pool_id", "=", poolId).where("name", "=", name).executeTakeFirst();
  return result.numDeletedRows > 0n;
}
