import { Readable } from "node:stream";
import type { Database } from "../db/database.js";

/** Rows read per query while streaming, so a run with millions of logs is never in memory at once. */
const PAGE = 1000;

const LEVEL_NAMES: Record<number, string> = { 10: "DEBUG", 20: "INFO", 30: "WARNING", 40: "ERROR", 50: "CRITICAL" };

/**
 * A flow run's logs as CSV (`timestamp,level,flow_run_id,task_run_id,message`, oldest first),
 * read page by page with a keyset on (timestamp, id) as the response is consumed.
 */
export function streamRunLogsCsv(db: Database, flowRunId: string): Readable {
  async function* lines(): AsyncGenerator<string> {
    yield "timestamp,level,flow_run_id,task_run_id,message\n";
    let after: { timestamp: string; id: string } | undefined;
    for (;;) {
      let query = db.kysely
        .selectFrom("log")
        .select(["id", "timestamp", "level", "flow_run_id", "task_run_id", "message"])
        .where("flow_run_id", "=", flowRunId);
      if (after) {
        const { timestamp, id } = after;
        query = query.where((eb) => eb.or([eb("timestamp", ">", timestamp), eb.and([eb("timestamp", "=", timestamp), eb("id", ">", id)])]));
      }
      const rows = await query.orderBy("timestamp").orderBy("id").limit(PAGE).execute();
      if (rows.length > 0) {
        yield rows
          .map((row) => [row.timestamp, LEVEL_NAMES[row.level] ?? String(row.level), row.flow_run_id ?? "", row.task_run_id ?? "", row.message].map(csvField).join(",") + "\n")
          .join("");
      }
      if (rows.length < PAGE) return;
      const last = rows[rows.length - 1]!;
      after = { timestamp: last.timestamp, id: last.id };
    }
  }
  return Readable.from(lines());
}

/** RFC 4180 quoting: a field with a comma, quote or line break is quoted, quotes doubled. */
function csvField(value: string): string {
  return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
