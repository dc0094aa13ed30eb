// Preloaded into the server child by `npm run bench -- --sql-timing` (node --import): times
// every SQL statement the server runs, per SQL text, and writes the totals as JSON to
// BATON_BENCH_SQL_TIMING_FILE when the process exits.
//
// SQLite (better-sqlite3) is synchronous, so a statement's time is CPU spent in SQLite by the
// server's one thread. For PostgreSQL (pg) the time is from sending the query to its answer:
// the round trip plus the backend's work, while the server's event loop goes on with other
// requests. Plain JavaScript like serve.mjs, so the child needs no TypeScript loader.
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import process from "node:process";
import SqliteDatabase from "better-sqlite3";
import pg from "pg";

const output = process.env.BATON_BENCH_SQL_TIMING_FILE;
/** @type {Map<string, { calls: number; ms: number }>} */
const totals = new Map();

function record(sql, ms) {
  // Values inlined in the text (rare: the hot paths bind parameters) would split one
  // statement into many rows; keep the text as is and let the report show it.
  const entry = totals.get(sql);
  if (entry) {
    entry.calls += 1;
    entry.ms += ms;
  } else {
    totals.set(sql, { calls: 1, ms });
  }
}

// better-sqlite3 does not export its Statement class; take its prototype from a statement.
const probe = new SqliteDatabase(":memory:");
const statementPrototype = Object.getPrototypeOf(probe.prepare("SELECT 1"));
probe.close();
for (const method of ["run", "get", "all"]) {
  const original = statementPrototype[method];
  statementPrototype[method] = function timed(...args) {
    const started = performance.now();
    try {
      return original.apply(this, args);
    } finally {
      record(this.source, performance.now() - started);
    }
  };
}

const originalQuery = pg.Client.prototype.query;
pg.Client.prototype.query = function timed(config, values, callback) {
  const started = performance.now();
  const text = typeof config === "string" ? config : config?.text;
  const result = originalQuery.call(this, config, values, callback);
  if (text && result && typeof result.then === "function") {
    result.then(
      () => record(text, performance.now() - started),
      () => record(text, performance.now() - started),
    );
  }
  return result;
};

process.on("exit", () => {
  if (!output) return;
  const rows = [...totals.entries()].map(([sql, t]) => ({ sql, calls: t.calls, ms: t.ms }));
  writeFileSync(output, JSON.stringify(rows));
});
