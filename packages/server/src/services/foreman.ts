import { sql, type RawBuilder } from "kysely";
import { LoopService } from "./service.js";
import { StatusChanges } from "../events/status-events.js";

/**
 * Keeps the readiness shown for workers, work pools, work queues and deployments true when
 * the things behind them go quiet. The API marks them ONLINE/READY when a worker polls or
 * sends a heartbeat; this service only demotes:
 *
 * - a worker ONLINE whose last heartbeat is older than its own heartbeat interval (or
 *   BATON_SERVER_SERVICES_FOREMAN_FALLBACK_HEARTBEAT_INTERVAL_SECONDS when it sent none)
 *   times BATON_SERVER_SERVICES_FOREMAN_INACTIVITY_HEARTBEAT_MULTIPLE becomes OFFLINE;
 * - a READY work pool with no ONLINE worker left and no poll within the window (fallback
 *   interval times the multiple) becomes NOT_READY; a PAUSED pool stays PAUSED;
 * - a READY work queue, and a READY deployment, not polled within the window become NOT_READY.
 *
 * Each step is one UPDATE, so a worker that heartbeats meanwhile is never demoted by a stale read.
 */
export class ForemanService extends LoopService {
  readonly name = "foreman";

  async runOnce(): Promise<void> {
    const { db, clock, config, events, logger } = this.resources;
    const changes = new StatusChanges();
    const now = clock.now();
    const nowText = now.toISOString();
    const { inactivityHeartbeatMultiple: multiple, fallbackHeartbeatIntervalSeconds: fallback } = config.foreman;
    const cutoff = new Date(now.getTime() - fallback * multiple * 1000).toISOString();

    await db.kysely
      .updateTable("worker")
      .set({ status: "OFFLINE", updated: nowText })
      .where("status", "=", "ONLINE")
      .where((eb) =>
        eb.or([
          eb("last_heartbeat_time", "is", null),
          // The * 1.0 makes the comparison numeric, so a fractional fallback interval binds on PostgreSQL.
          eb(secondsSince(db.dialect.name, "last_heartbeat_time", nowText), ">", sql<number>`coalesce(heartbeat_interval_seconds * 1.0, ${fallback}) * ${multiple}`),
        ]),
      )
      .returning("id")
      .execute()
      .then((rows) => rows.forEach((r) => changes.worker(r.id)));

    await db.kysely
      .updateTable("work_pool")
      .set({ status: "NOT_READY", updated: nowText })
      .where("status", "=", "READY")
      .where((eb) => eb.or([eb("last_polled", "is", null), eb("last_polled", "<", cutoff)]))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom("worker")
              .select("worker.id")
              .whereRef("worker.work_pool_id", "=", "work_pool.id")
              .where("worker.status", "=", "ONLINE"),
          ),
        ),
      )
      .returning("id")
      .execute()
      .then((rows) => rows.forEach((r) => changes.pool(r.id)));

    await db.kysely
      .updateTable("work_queue")
      .set({ status: "NOT_READY", updated: nowText })
      .where("status", "=", "READY")
      .where((eb) => eb.or([eb("last_polled", "is", null), eb("last_polled", "<", cutoff)]))
      .returning("id")
      .execute()
      .then((rows) => rows.forEach((r) => changes.queue(r.id)));

    await db.kysely
      .updateTable("deployment")
      .set({ status: "NOT_READY", updated: nowText })
      .where("status", "=", "READY")
      .where((eb) => eb.or([eb("last_polled", "is", null), eb("last_polled", "<", cutoff)]))
      .returning("id")
      .execute()
      .then((rows) => rows.forEach((r) => changes.deployment(r.id)));

    await changes.emit(db, events, (error) => logger.error({ err: error }, "publishing status events failed"));
  }
}

/** Seconds from the timestamp in `column` to `now`, in each database's own date arithmetic. */
function secondsSince(dialect: "sqlite" | "postgres", column: string, now: string): RawBuilder<number> {
  return dialect === "postgres"
    ? sql<number>`extract(epoch from (${now}::timestamptz - ${sql.ref(column)}))`
    : sql<number>`(julianday(${now}) - julianday(${sql.ref(column)})) * 86400.0`;
}
