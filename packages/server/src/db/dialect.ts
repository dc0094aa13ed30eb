import type { RawBuilder, SqlBool } from "kysely";

export type DialectName = "sqlite" | "postgres";

/**
 * What differs between SQLite and PostgreSQL, in one interface; `sqlite/dialect.ts` and
 * `postgres/dialect.ts` implement it. Everything else is written once.
 */
export interface DialectOps {
  readonly name: DialectName;
  /** Column types used by the migrations. */
  readonly types: { id: string; json: string; timestamp: string; bool: string; float: string };
  /** Starts a write transaction that holds the write lock from its first statement. */
  readonly beginWrite: string;
  /** Whether `SELECT ... FOR UPDATE` exists (SQLite serialises writers instead). */
  readonly supportsRowLocks: boolean;
  /** The JSON array in `column` holds every one of `values`. */
  jsonArrayContainsAll(column: string, values: readonly string[]): RawBuilder<SqlBool>;
  /** The JSON array in `column` holds at least one of `values`. */
  jsonArrayContainsAny(column: string, values: readonly string[]): RawBuilder<SqlBool>;
  /** The JSON array in `column` is empty. */
  jsonArrayIsEmpty(column: string): RawBuilder<SqlBool>;
  /** The text of `key` in the JSON object stored in `column` (NULL when absent). */
  jsonTextField(column: string, key: string): RawBuilder<unknown>;
  /** Case-insensitive substring match, as the contract's `like_` means it. */
  containsText(column: string, text: string): RawBuilder<SqlBool>;
}

/** Escapes LIKE wildcards so `like_` matches the text literally. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}
