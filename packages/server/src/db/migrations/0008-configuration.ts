import type { DialectOps } from "../dialect.js";

/**
 * Server configuration kept in the database, one JSON value per key (Prefect's
 * `configuration` table): first the server's default result storage block (`admin/storage`).
 */
export function up(d: DialectOps): string[] {
  const { id: ID, json: JSON, timestamp: TS } = d.types;
  return [
    `CREATE TABLE configuration (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      key TEXT NOT NULL UNIQUE,
      value ${JSON} NOT NULL
    )`,
  ];
}
