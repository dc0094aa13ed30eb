import type { Log, LogCreate, LogFilter } from "@baton/core";
import type { Selectable } from "kysely";
import { insertRows } from "../bulk-insert.js";
import type { Database, Executor } from "../database.js";
import { logConditions } from "../filters.js";
import { newId } from "../json.js";
import type { LogTable } from "../schema.js";
import { pageLimit } from "./paging.js";

export function logFromRow(row: Selectable<LogTable>): Log {
  return { ...row, updated: row.created };
}

const INSERT_LOGS = {
  key: "logs",
  table: "log",
  columns: ["id", "created", "name", "level", "message", "timestamp", "flow_run_id", "task_run_id"],
} as const;
/** Rows per INSERT: 8 columns each stays well under both databases' bound-parameter caps. */
const CHUNK = 1000;

/** Inserts a batch of logs: one transaction, one statement per chunk of rows. */
export async function insertLogs(db: Database, logs: ReadonlyArray<LogCreate & { timestamp: string }>): Promise<void> {
  const now = new Date().toISOString();
  const rows: Array<Selectable<LogTable>> = logs.map((log) => ({
    id: newId(),
    created: now,
    name: log.name,
    level: log.level,
    message: log.message,
    timestamp: log.timestamp,
    flow_run_id: log.flow_run_id ?? null,
    task_run_id: log.task_run_id ?? null,
  }));
  if (rows.length === 0) return;
  const write = async (trx: Executor) => {
    for (let i = 0; i < rows.length; i += CHUNK) await insertRows(trx, db.dialect.name, INSERT_LOGS, rows.slice(i, i + CHUNK));
  };
  // One chunk needs no transaction of its own; several are written together or not at all.
  if (rows.length <= CHUNK) await write(db.kysely);
  else await db.write(write);
}

export async function filterLogs(
  db: Database,
  filter: LogFilter | null | undefined,
  page: { sort: "TIMESTAMP_ASC" | "TIMESTAMP_DESC"; limit?: number | null | undefined; offset: number },
): Promise<Log[]> {
  let query = db.kysely.selectFrom("log").selectAll();
  const cond = logConditions(db.dialect, filter);
  if (cond) query = query.where(cond);
  const direction = page.sort === "TIMESTAMP_ASC" ? "asc" : "desc";
  const rows = await query.orderBy("timestamp", direction).orderBy("created", direction).orderBy("id").limit(pageLimit(page.limit)).offset(page.offset).execute();
  return rows.map(logFromRow);
}
