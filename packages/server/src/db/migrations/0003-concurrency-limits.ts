import type { DialectOps } from "../dialect.js";

/**
 * Concurrency limits. Global limits keep their slot counts as real numbers: a rate limit
 * leaks `slot_decay_per_second` slots continuously, computed from `slots_at` (epoch seconds
 * of the last count) on every read and write. A lease records what a holder took, so that
 * the lease-expiry service can give it back when the holder dies. Tag limits keep one row per
 * task run holding a slot, so taking and giving back are inserts and deletes, never a
 * read-modify-write of a list.
 */
export function up(d: DialectOps): string[] {
  const { id: ID, json: JSON, timestamp: TS, bool: BOOL, float: FLOAT } = d.types;
  return [
    `CREATE TABLE concurrency_limit_v2 (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      active ${BOOL} NOT NULL,
      name TEXT NOT NULL UNIQUE,
      "limit" INTEGER NOT NULL,
      active_slots ${FLOAT} NOT NULL,
      denied_slots ${FLOAT} NOT NULL,
      slot_decay_per_second ${FLOAT} NOT NULL,
      avg_slot_occupancy_seconds ${FLOAT} NOT NULL,
      slots_at ${FLOAT} NOT NULL
    )`,
    `CREATE TABLE concurrency_lease (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      expiration ${TS} NOT NULL,
      resource_ids ${JSON} NOT NULL,
      slots INTEGER NOT NULL,
      holder ${JSON}
    )`,
    `CREATE INDEX ix_concurrency_lease_expiration ON concurrency_lease (expiration)`,
    `CREATE TABLE concurrency_limit (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      tag TEXT NOT NULL UNIQUE,
      concurrency_limit INTEGER NOT NULL
    )`,
    `CREATE TABLE concurrency_limit_slot (
      limit_id ${ID} NOT NULL REFERENCES concurrency_limit(id) ON DELETE CASCADE,
      task_run_id ${ID} NOT NULL,
      created ${TS} NOT NULL,
      PRIMARY KEY (limit_id, task_run_id)
    )`,
    `CREATE INDEX ix_concurrency_limit_slot_task_run ON concurrency_limit_slot (task_run_id)`,
  ];
}
