import type { DialectOps } from "../dialect.js";

/**
 * Variables (named JSON values); artifacts, and per artifact key its latest version
 * (artifact_collection), kept up to date as artifacts are created, updated and deleted.
 */
export function up(d: DialectOps): string[] {
  const { id: ID, json: JSON, timestamp: TS } = d.types;
  return [
    `CREATE TABLE variable (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      name TEXT NOT NULL UNIQUE,
      value ${JSON},
      tags ${JSON} NOT NULL
    )`,
    `CREATE TABLE artifact (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      key TEXT,
      type TEXT,
      description TEXT,
      data ${JSON},
      metadata_ ${JSON},
      flow_run_id ${ID},
      task_run_id ${ID}
    )`,
    `CREATE INDEX ix_artifact_key ON artifact (key, created)`,
    `CREATE INDEX ix_artifact_flow_run ON artifact (flow_run_id)`,
    `CREATE INDEX ix_artifact_task_run ON artifact (task_run_id)`,
    `CREATE TABLE artifact_collection (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      key TEXT NOT NULL UNIQUE,
      latest_id ${ID} NOT NULL,
      type TEXT,
      description TEXT,
      data ${JSON},
      metadata_ ${JSON},
      flow_run_id ${ID},
      task_run_id ${ID}
    )`,
    `CREATE INDEX ix_artifact_collection_latest ON artifact_collection (latest_id)`,
  ];
}
