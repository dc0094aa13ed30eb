import { sql } from "kysely";
import { escapeLike, type DialectOps } from "../dialect.js";

export const sqliteDialect: DialectOps = {
  name: "sqlite",
  types: { id: "TEXT", json: "TEXT", timestamp: "TEXT", bool: "INTEGER", float: "REAL" },
  // IMMEDIATE takes the write lock at BEGIN, so a second process waits on busy_timeout
  // instead of failing with SQLITE_BUSY when it later tries to upgrade a read lock.
  beginWrite: "BEGIN IMMEDIATE",
  supportsRowLocks: false,
  jsonArrayContainsAll(column, values) {
    if (values.length === 0) return sql<boolean>`1 = 1`;
    return sql<boolean>`(SELECT COUNT(DISTINCT value) FROM json_each(${sql.ref(column)}) WHERE value IN (${sql.join(values)})) = ${new Set(values).size}`;
  },
  jsonArrayContainsAny(column, values) {
    if (values.length === 0) return sql<boolean>`1 = 0`;
    return sql<boolean>`EXISTS (SELECT 1 FROM json_each(${sql.ref(column)}) WHERE value IN (${sql.join(values)}))`;
  },
  jsonArrayIsEmpty(column) {
    return sql<boolean>`json_array_length(${sql.ref(column)}) = 0`;
  },
  jsonTextField(column, key) {
    return sql`json_extract(${sql.ref(column)}, ${`$.${key}`})`;
  },
  containsText(column, text) {
    return sql<boolean>`${sql.ref(column)} LIKE ${`%${escapeLike(text)}%`} ESCAPE '\\'`;
  },
};
