import type { DialectOps } from "../dialect.js";

/** Saved searches: named sets of UI filters, unique by name. */
export function up(d: DialectOps): string[] {
  const { id: ID, json: JSON, timestamp: TS } = d.types;
  return [
    `CREATE TABLE saved_search (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      name TEXT NOT NULL UNIQUE,
      filters ${JSON} NOT NULL
    )`,
  ];
}
