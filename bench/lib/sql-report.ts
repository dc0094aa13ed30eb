import { existsSync, readFileSync } from "node:fs";

interface StatementTotal {
  sql: string;
  calls: number;
  ms: number;
}

/** Formats what bench/sql-timing.mjs recorded in the server child: statements by total time. */
export function formatSqlTiming(file: string, top = 15): string {
  if (!existsSync(file)) return `no SQL timing written to ${file}`;
  const rows = (JSON.parse(readFileSync(file, "utf8")) as StatementTotal[]).sort((a, b) => b.ms - a.ms);
  const totalMs = rows.reduce((sum, r) => sum + r.ms, 0);
  const totalCalls = rows.reduce((sum, r) => sum + r.calls, 0);
  const lines = rows.slice(0, top).map((r) => {
    const sql = r.sql.replace(/\s+/g, " ").trim();
    const shown = sql.length > 150 ? `${sql.slice(0, 147)}...` : sql;
    return `  ${((100 * r.ms) / totalMs).toFixed(1).padStart(5)}%  ${r.ms.toFixed(0).padStart(7)} ms  ${String(r.calls).padStart(7)} calls  ${((1000 * r.ms) / r.calls).toFixed(0).padStart(6)} us/call  ${shown}`;
  });
  return [`SQL statements in the server: ${totalCalls} calls, ${totalMs.toFixed(0)} ms in total (warm-up and drain included)`, ...lines].join("\n");
}
