import { CompiledQuery } from "kysely";
import type { Executor } from "./database.js";
import type { DialectName } from "./dialect.js";

/**
 * A multi-row INSERT for the write paths that take thousands of rows a second (the task runs
 * and states the task run recorder writes from events): its text is made once per table, dialect and row count and
 * kept, instead of Kysely's builder walking every value of every batch (building 400-row
 * inserts was most of the task run recorder's own time). `rest` follows the VALUES list
 * (an ON CONFLICT clause) and must be constant for a given `key`.
 */
export async function insertRows<Row extends object>(
  trx: Executor,
  dialect: DialectName,
  statement: { key: string; table: string; columns: ReadonlyArray<keyof Row & string>; rest?: string },
  rows: readonly Row[],
): Promise<void> {
  if (rows.length === 0) return;
  const { table, columns, rest = "" } = statement;
  const text = cached(`${statement.key}:${dialect}:${rows.length}`, () => {
    const names = columns.map((c) => `"${c}"`).join(", ");
    return `insert into "${table}" (${names}) values ${valuesList(dialect, rows.length, columns.length)}${rest ? ` ${rest}` : ""}`;
  });
  const parameters: unknown[] = new Array<unknown>(rows.length * columns.length);
  let n = 0;
  for (const row of rows) for (const column of columns) parameters[n++] = row[column];
  await trx.executeQuery(CompiledQuery.raw(text, parameters));
}

/** `(?, ?), (?, ?)` on SQLite, `($1, $2), ($3, $4)` on PostgreSQL. */
function valuesList(dialect: DialectName, rows: number, columns: number): string {
  const tuples: string[] = [];
  let n = 0;
  for (let r = 0; r < rows; r++) {
    const marks: string[] = [];
    for (let c = 0; c < columns; c++) marks.push(dialect === "postgres" ? `$${++n}` : "?");
    tuples.push(`(${marks.join(", ")})`);
  }
  return tuples.join(", ");
}

/** Statement texts by shape; batches come in few sizes (full chunks, and the rest). */
const statements = new Map<string, string>();
const MAX_CACHED = 128;

function cached(key: string, build: () => string): string {
  let text = statements.get(key);
  if (text === undefined) {
    text = build();
    if (statements.size >= MAX_CACHED) statements.delete(statements.keys().next().value!);
    statements.set(key, text);
  }
  return text;
}
