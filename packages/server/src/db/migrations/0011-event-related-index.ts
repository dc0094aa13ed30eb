import type { DialectOps } from "../dialect.js";

/** The index's name, which an operator may create beforehand (README, "Storage": upgrading past 0011). */
const EVENT_RELATED_INDEX = "ix_event_related";

/**
 * Events by related resource (`related` and `any_resource` filters by id or role: a flow run's
 * events page, an automation's related events). On PostgreSQL a GIN index over the `related`
 * array answers `related @> '[{"prefect.resource.id": ...}]'`, which the filter ANDs before its
 * exact test (db/queries/events.ts): 0.2 ms instead of a 0.5 s scan of 300,000 events, for
 * about a third more time per INSERT. SQLite has no index over JSON arrays; there the filter
 * reads each event of the time range, so this migration has nothing to do.
 *
 * Migrations run in a transaction, so the index is built without CONCURRENTLY: writes to
 * `event` wait while it builds. On a large table an operator can build it CONCURRENTLY first;
 * `IF NOT EXISTS` then keeps that one. A leftover of an interrupted concurrent build is
 * INVALID (never used by queries, yet it would satisfy IF NOT EXISTS), so it is dropped and
 * built again here.
 */
export function up(d: DialectOps): string[] {
  if (d.name !== "postgres") return [];
  return [
    `DO $$
    BEGIN
      IF EXISTS (
        SELECT 1 FROM pg_index i
        JOIN pg_class c ON c.oid = i.indexrelid
        WHERE c.relname = '${EVENT_RELATED_INDEX}' AND c.relnamespace = current_schema()::regnamespace AND NOT i.indisvalid
      ) THEN
        DROP INDEX ${EVENT_RELATED_INDEX};
      END IF;
    END $$`,
    `CREATE INDEX IF NOT EXISTS ${EVENT_RELATED_INDEX} ON event USING GIN (related jsonb_path_ops)`,
  ];
}
