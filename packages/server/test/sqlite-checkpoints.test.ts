import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "@baton/server";
import SqliteDatabase from "better-sqlite3";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";
import { startCheckpointer, type CheckpointerLogger } from "../src/db/sqlite/checkpointer.js";
import { ThrottledLog } from "../src/db/sqlite/throttled-log.js";

/**
 * SQLite's write-ahead log is copied into the database file by a checkpointer thread, not by
 * the server's own COMMITs (automatic checkpoints are off on its connection). A write smaller
 * than SQLite's automatic threshold (1,000 pages) shows which one did it: only the thread
 * copies it into the file.
 */
describe("SQLite checkpoints in a worker thread", () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-ckpt-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("copies committed pages into the database file without a COMMIT doing it", async () => {
    const file = join(dir, "baton.db");
    const db = await openDatabase({ url: `sqlite:${file}` });
    try {
      await sql`CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)`.execute(db.kysely);
      // Let the checkpointer take the migrations, so the file's size is a baseline.
      await waitFor(async () => (await walFrames(db)) === 0);
      const before = statSync(file).size;
      // About 2 MiB: ~500 pages, under the automatic threshold.
      await db.write(async (trx) => {
        for (let i = 0; i < 500; i++) await sql`INSERT INTO filler (body) VALUES (${"x".repeat(4000)})`.execute(trx);
      });
      await waitFor(() => statSync(file).size - before > 1_500_000);
      expect(statSync(file).size - before).toBeGreaterThan(1_500_000);
      const rows = await sql<{ n: number }>`SELECT count(*) AS n FROM filler`.execute(db.kysely);
      expect(Number(rows.rows[0]!.n)).toBe(500);
    } finally {
      await db.close();
    }
    // Closed cleanly: the last connection folds the log in and removes it.
    expect(existsSync(`${file}-wal`)).toBe(false);
  });
});

describe("the SQLite checkpointer's rounds", () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-ckpt-rounds-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The server's connection as connectSqlite opens it, on a file of its own. */
  function serverConnection(name: string): { file: string; main: SqliteDatabase.Database } {
    const file = join(dir, name);
    const main = new SqliteDatabase(file);
    main.pragma("journal_mode = WAL");
    main.pragma("busy_timeout = 30000");
    main.exec("CREATE TABLE filler (id INTEGER PRIMARY KEY, body TEXT NOT NULL)");
    return { file, main };
  }
  const fill = (db: SqliteDatabase.Database, rows: number) => {
    const insert = db.prepare("INSERT INTO filler (body) VALUES (?)");
    db.transaction(() => {
      for (let i = 0; i < rows; i++) insert.run("x".repeat(4000));
    })();
  };
  const recorder = () => {
    const lines: { level: "warn" | "error"; details: object; message: string }[] = [];
    const logger: CheckpointerLogger = {
      warn: (details, message) => lines.push({ level: "warn", details, message }),
      error: (details, message) => lines.push({ level: "error", details, message }),
    };
    return { lines, logger };
  };

  it("a reader holding an old snapshot makes a round copy what it can and skip the truncation, without holding writers; once it is done the log is truncated", async () => {
    const { file, main } = serverConnection("reader.db");
    // A timer round never runs during the test (every hour); rounds are asked for.
    const checkpointer = startCheckpointer(file, main, { everyMs: 3_600_000, truncateAbovePages: 0 });
    const reader = new SqliteDatabase(file);
    try {
      reader.exec("BEGIN");
      reader.prepare("SELECT count(*) FROM filler").get();
      fill(main, 200);
      const started = Date.now();
      const round = checkpointer.checkpointNow();
      // A writer during the round: a truncation waiting for the reader would hold it (the
      // checkpointer's old 5 s busy timeout); the passive round never takes the write lock.
      const writeStarted = Date.now();
      fill(main, 1);
      const writeMs = Date.now() - writeStarted;
      const outcome = await round;
      expect(outcome).toMatchObject({ kind: "partial" });
      if (outcome.kind === "partial") expect(outcome.checkpointed).toBeLessThan(outcome.log);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(writeMs).toBeLessThan(1000);
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);

      reader.exec("COMMIT");
      expect(await checkpointer.checkpointNow()).toMatchObject({ kind: "truncated" });
      expect(statSync(`${file}-wal`).size).toBe(0);
      expect(await checkpointer.checkpointNow()).toEqual({ kind: "empty" });
    } finally {
      reader.close();
      await checkpointer.stop();
      main.close();
    }
  });

  it("a short log fully copied is left in place (copied), not truncated", async () => {
    const { file, main } = serverConnection("short.db");
    const checkpointer = startCheckpointer(file, main, { everyMs: 3_600_000, truncateAbovePages: 10_000 });
    try {
      fill(main, 20);
      const outcome = await checkpointer.checkpointNow();
      expect(outcome).toMatchObject({ kind: "copied" });
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(0);
    } finally {
      await checkpointer.stop();
      main.close();
    }
  });

  it("a long log whose truncation was skipped (busy) does not keep its size once the server's writes start it over", async () => {
    const { file, main } = serverConnection("skipped.db");
    const checkpointer = startCheckpointer(file, main, { everyMs: 3_600_000, truncateAbovePages: 100 });
    const writer = new SqliteDatabase(file);
    try {
      fill(main, 2000);
      expect(statSync(`${file}-wal`).size).toBeGreaterThan(100 * 4096 * 4);
      // Another connection holding the write lock past the checkpointer's busy timeout.
      writer.exec("BEGIN IMMEDIATE");
      expect(await checkpointer.checkpointNow()).toEqual({ kind: "busy" });
      writer.exec("COMMIT");
      // The log was copied in full, so this write starts it over; the rounds after see a short
      // log and never truncate, so only the size limit can cut the file back.
      fill(main, 1);
      expect(await checkpointer.checkpointNow()).toMatchObject({ kind: "copied" });
      expect(statSync(`${file}-wal`).size).toBeLessThanOrEqual(100 * 4096);
    } finally {
      writer.close();
      await checkpointer.stop();
      main.close();
    }
  });

  it("stop waits for the worker's stopped reply, not for any message: afterwards the server's connection is the last one", async () => {
    const { file, main } = serverConnection("stop.db");
    const checkpointer = startCheckpointer(file, main, { everyMs: 3_600_000 });
    fill(main, 20);
    // A round's reply arrives before the stop's: stop must not take it for its own.
    const round = checkpointer.checkpointNow();
    await checkpointer.stop();
    await round;
    expect(main.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    main.close();
    // The last connection to close removes the log; one still open in the worker would keep it.
    expect(existsSync(`${file}-wal`)).toBe(false);
    await expect(checkpointer.checkpointNow()).rejects.toThrow("stopped");
  });

  it("a second stop while the first is under way waits for the same stop", async () => {
    const { file, main } = serverConnection("stop-twice.db");
    const checkpointer = startCheckpointer(file, main, { everyMs: 3_600_000 });
    fill(main, 20);
    // The worker's connection is open once it has answered a round.
    await checkpointer.checkpointNow();
    const first = checkpointer.stop();
    await checkpointer.stop();
    main.close();
    // As after one stop: the worker's connection is closed, so the server's was the last.
    expect(existsSync(`${file}-wal`)).toBe(false);
    await first;
  });

  it("a worker that crashes turns automatic checkpoints back on, logs it once through the logger, and stop resolves at once", async () => {
    // A folder is no database: the worker's open throws and the thread exits.
    const folder = join(dir, "not-a-file");
    mkdirSync(folder);
    const main = new SqliteDatabase(":memory:");
    const { lines, logger } = recorder();
    const checkpointer = startCheckpointer(folder, main, { logger });
    expect(main.pragma("wal_autocheckpoint", { simple: true })).toBe(0);
    await waitFor(() => lines.length > 0);
    expect(lines).toEqual([{ level: "error", details: { path: folder }, message: expect.stringContaining("automatic checkpoints are back on") as string }]);
    expect(main.pragma("wal_autocheckpoint", { simple: true })).toBe(1000);
    await expect(checkpointer.checkpointNow()).rejects.toThrow();
    const started = Date.now();
    await checkpointer.stop();
    expect(Date.now() - started).toBeLessThan(500);
    main.close();
  });

  it("repeated failures are logged once per window, with their count", () => {
    let now = 0;
    const log = new ThrottledLog(60_000, () => now);
    const lines: [number, string][] = [];
    const write = (count: number, last: string) => lines.push([count, last]);
    for (let i = 0; i < 100; i++) log.record(`failure ${i}`, write);
    expect(lines).toEqual([[1, "failure 0"]]);
    now = 59_999;
    log.record("failure 100", write);
    expect(lines).toHaveLength(1);
    now = 60_000;
    log.record("failure 101", write);
    expect(lines).toEqual([
      [1, "failure 0"],
      [101, "failure 101"],
    ]);
    log.record("failure 102", write);
    log.flush(write);
    expect(lines.at(-1)).toEqual([1, "failure 102"]);
    log.flush(write);
    expect(lines).toHaveLength(3);
  });
});

/** Frames in the log not yet copied, as a passive checkpoint of our own reports them (it copies them too, so only used for the baseline). */
function walFrames(db: Awaited<ReturnType<typeof openDatabase>>): Promise<number> {
  return sql<{ log: number; checkpointed: number }>`PRAGMA wal_checkpoint(PASSIVE)`
    .execute(db.kysely)
    .then((r) => Number(r.rows[0]!.log) - Number(r.rows[0]!.checkpointed));
}

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition()) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
}
