import { sql } from "kysely";
import { escapeLike, type DialectOps } from "../dialect.js";

export const postgresDialect: DialectOps = {
  name: "postgres",
  types: { id: "UUID", json: "JSONB", timestamp: "TIMESTAMPTZ", bool: "SMALLINT", float: "DOUBLE PRECISION" },
  beginWrite: "BEGIN",
  supportsRowLocks: true,
  jsonArrayContainsAll(column, values) {
    return sql<boolean>`${sql.ref(column)} @> ${JSON.stringify(values)}::jsonb`;
  },
  jsonArrayContainsAny(column, values) {
    if (values.length === 0) return sql<boolean>`FALSE`;
    return sql<boolean>`${sql.ref(column)} ?| ${sql.val(values)}::text[]`;
  },
  jsonArrayIsEmpty(column) {
    return sql<boolean>`jsonb_array_length(${sql.ref(column)}) = 0`;
  },
  jsonTextField(column, key) {
    return sql`${sql.ref(column)}->>${key}`;
  },
  containsText(column, text) {
    return sql<boolean>`${sql.ref(column)} ILIKE ${`%${escapeLike(text)}%`} ESCAPE '\\'`;
  },
};
