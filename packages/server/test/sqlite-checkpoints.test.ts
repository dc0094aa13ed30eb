import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "@baton/server";
import { sql } from "kysely";
import { afterAll, describe, expect, it } from "vitest";

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
