import type { DialectOps } from "../dialect.js";

/**
 * Work pools, their queues and workers; flow-run heartbeats for zombie detection; events
 * (heartbeats arrive as Prefect events); the deployment schedule slots the scheduler fills.
 */
export function up(d: DialectOps): string[] {
  const { id: ID, json: JSON, timestamp: TS, bool: BOOL } = d.types;
  return [
    `CREATE TABLE work_pool (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      name TEXT NOT NULL UNIQUE,
      description TEXT,
      type TEXT NOT NULL,
      base_job_template ${JSON} NOT NULL,
      is_paused ${BOOL} NOT NULL DEFAULT 0,
      concurrency_limit INTEGER,
      default_queue_id ${ID},
      status TEXT,
      last_polled ${TS},
      storage_configuration ${JSON}
    )`,
    `CREATE TABLE work_queue (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      name TEXT NOT NULL,
      description TEXT,
      is_paused ${BOOL} NOT NULL DEFAULT 0,
      concurrency_limit INTEGER,
      priority INTEGER NOT NULL DEFAULT 1,
      work_pool_id ${ID} NOT NULL REFERENCES work_pool(id) ON DELETE CASCADE,
      last_polled ${TS},
      status TEXT,
      UNIQUE (work_pool_id, name)
    )`,
    `CREATE TABLE worker (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      name TEXT NOT NULL,
      work_pool_id ${ID} NOT NULL REFERENCES work_pool(id) ON DELETE CASCADE,
      last_heartbeat_time ${TS},
      heartbeat_interval_seconds INTEGER,
      status TEXT NOT NULL DEFAULT 'OFFLINE',
      UNIQUE (work_pool_id, name)
    )`,
    `ALTER TABLE flow_run ADD COLUMN last_heartbeat ${TS}`,
    `CREATE INDEX ix_flow_run_work_queue ON flow_run (work_queue_id, state_type)`,
    `CREATE INDEX ix_flow_run_work_pool ON flow_run (work_pool_id, state_type)`,
    `CREATE TABLE event (
      id ${ID} PRIMARY KEY,
      occurred ${TS} NOT NULL,
      received ${TS} NOT NULL,
      event TEXT NOT NULL,
      resource_id TEXT NOT NULL,
      resource ${JSON} NOT NULL,
      related ${JSON} NOT NULL,
      payload ${JSON} NOT NULL,
      follows ${ID}
    )`,
    `CREATE INDEX ix_event_occurred ON event (occurred)`,
    `CREATE INDEX ix_event_resource ON event (resource_id, occurred)`,
  ];
}
