/**
 * The flows that `baton.yaml` beside this file deploys:
 *
 * - `heartbeat`, run by the scheduler every 10 minutes (an interval schedule);
 * - `etl`, which takes parameters: a `date` each run must be given (the daily schedule gives
 *   "today") and a `limit` with a default. A `limit` below 1 fails the run, on purpose, to
 *   show a failed run.
 *
 *   baton work-pool create local
 *   baton deploy --file examples/deploy/baton.yaml
 *   baton worker start --pool local            # in another terminal
 *   baton deployment run etl/daily --param date=2026-01-31 --param limit=3 --watch
 *
 * Importing this file only defines the flows; a worker (or `baton deploy`) imports it by the
 * deployments' entrypoints, `flows.ts:heartbeat` and `flows.ts:etl`.
 */
import { flow, getRunLogger, task } from "@baton/sdk";

export const heartbeat = flow({ name: "heartbeat", description: "Logs that the scheduler and a worker are alive" }, function heartbeat() {
  const now = new Date().toISOString();
  getRunLogger().info("tick at %s", now);
  return now;
});

const extract = task(function extract(date: string, limit: number) {
  return Array.from({ length: limit }, (_, i) => ({ date, row: i + 1 }));
});

const load = task(function load(rows: Array<{ date: string; row: number }>) {
  return rows.length;
});

export const etl = flow({ name: "etl", description: "Extracts `limit` rows for a day and loads them" }, async function etl(date: string, limit: number = 10) {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new Error(`limit must be a whole number of at least 1, got ${limit}`);
  }
  const day = date === "today" ? new Date().toISOString().slice(0, 10) : date;
  const rows = await extract(day, limit);
  const loaded = await load(rows);
  getRunLogger().info("loaded %d rows for %s", loaded, day);
  return { date: day, loaded };
});
