import type { DialectOps } from "../dialect.js";

/** Inputs of flow runs: what a paused run asked for (its schema) and what it was sent. */
export function up(d: DialectOps): string[] {
  const { id: ID, timestamp: TS } = d.types;
  return [
    `CREATE TABLE flow_run_input (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      flow_run_id ${ID} NOT NULL REFERENCES flow_run(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      value TEXT NOT NULL,
      sender TEXT,
      UNIQUE (flow_run_id, key)
    )`,
  ];
}
