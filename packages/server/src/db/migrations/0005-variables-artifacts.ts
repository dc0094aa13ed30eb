import type { DialectOps } from "../dialect.js";

/** Variables (named JSON values). */
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
  ];
}
