import type { Log, LogCreate, LogFilter } from "@baton/core";
import { sql, type Selectable } from "kysely";
import { insertRows } from "../bulk-insert.js";
import type { Database } from "../database.js";
import { logConditions } from "../filters.js";
import { newId } from "../json.js";
import type { LogTable } from "../schema.js";
import { pageLimit } from "./paging.js";

export function logFromRow(row: Selectable<LogTable>): Log {
  return { ...row, updated: row.created };
}

/** Logs per INSERT on SQLite: 8 columns x 1,000 stays under its bound-parameter cap. */
const SQLITE_LOG_CHUNK = 1000;

const INSERT_LOGS = {
  key: "logs",
  table: "log",
  columns: ["id", "created", "name", "level", "message", "timestamp", "flow_run_id", "task_run_id"],
} as const;

/**
 * Inserts a batch of logs and returns them as stored. On PostgreSQL the batch travels as one
 * JSON parameter that the database unpacks (one round trip for thousands); on SQLite as
 * multi-row INSERTs of bound values, which SQLite takes twice as fast as unpacking JSON.
 */
export async function insertLogs(db: Database, logs: ReadonlyArray<LogCreate & { timestamp: string }>): Promise<Log[]> {
  if (logs.length === 0) return [];
  const now = new Date().toISOString();
  const rows: Log[] = logs.map((log) => ({
    id: newId(),
    created: now,
    updated: now,
    name: log.name,
    level: log.level,
    message: log.message,
    timestamp: log.timestamp,
    flow_run_id: log.flow_run_id ?? null,
    task_run_id: log.task_run_id ?? null,
  }));
  if (db.dialect.name === "postgres") {
    const batch = JSON.stringify(rows);
    await sql`
      INSERT INTO log (id, created, name, level, message, timestamp, flow_run_id, task_run_id)
      SELECT r.id, r.created, r.name, r.level, r.message, r."timestamp", r.flow_run_id, r.task_run_id
      FROM json_to_recordset(${batch}::json)
        AS r(id uuid, created timestamptz, name text, level int, message text, "timestamp" timestamptz, flow_run_id uuid, task_run_id uuid)
    `.execute(db.kysely);
  } else {
    await db.write(async (trx) => {
      for (let i = 0; i < rows.length; i += SQLITE_LOG_CHUNK) await insertRows(trx, "sqlite", INSERT_LOGS, rows.slice(i, i + SQLITE_LOG_CHUNK));
    });
  }
  return rows;
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
