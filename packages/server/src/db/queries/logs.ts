import type { Log, LogCreate, LogFilter } from "@baton/core";
import type { Selectable } from "kysely";
import type { Database } from "../database.js";
import { logConditions } from "../filters.js";
import { newId } from "../json.js";
import type { LogTable } from "../schema.js";
import { pageLimit } from "./paging.js";

export function logFromRow(row: Selectable<LogTable>): Log {
  return { ...row, updated: row.created };
}

/** Inserts a batch of logs in one statement per chunk (SQLite caps bound parameters). */
export async function insertLogs(db: Database, logs: ReadonlyArray<LogCreate & { timestamp: string }>): Promise<void> {
  const now = new Date().toISOString();
  const rows = logs.map((log) => ({
    id: newId(),
    created: now,
    name: log.name,
    level: log.level,
    message: log.message,
    timestamp: log.timestamp,
    flow_run_id: log.flow_run_id ?? null,
    task_run_id: log.task_run_id ?? null,
  }));
  const CHUNK = 500;
  for (let i = 0; i < rows.length; i += CHUNK) {
    await db.kysely.insertInto("log").values(rows.slice(i, i + CHUNK)).execute();
  }
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
