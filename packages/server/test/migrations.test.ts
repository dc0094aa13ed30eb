import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS, openDatabase } from "@baton/server";
import pg from "pg";
import { POSTGRES_URL } from "./harness.js";

describe("migrations", () => {
  it("apply once when three server processes open a new SQLite file at the same moment", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-mig-"));
    try {
      const url = `sqlite:${join(dir, "baton.db")}`;
      // Separate processes, as two real servers would be: better-sqlite3 blocks its thread
      // while it waits for the file lock, so the race only exists between processes.
      const script = `import { openDatabase } from "@baton/server"; const db = await openDatabase({ url: ${JSON.stringify(url)} }); await db.close();`;
      const exits = await Promise.all(
        Array.from({ length: 3 }, () =>
          new Promise<number | null>((resolve) => {
            const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: "inherit" });
            child.on("exit", resolve);
          }),
        ),
      );
      expect(exits).toEqual([0, 0, 0]);
      const db = await openDatabase({ url });
      const rows = await db.kysely.selectFrom("baton_migration").selectAll().execute();
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      await db.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("apply once when four servers open a new PostgreSQL schema at the same moment", async () => {
    const schema = `mig_${process.pid}_${Date.now().toString(36)}`;
    const admin = new pg.Client({ connectionString: POSTGRES_URL });
    await admin.connect();
    try {
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const dbs = await Promise.all(Array.from({ length: 4 }, () => openDatabase({ url: POSTGRES_URL, schema })));
      const rows = await dbs[0]!.kysely.selectFrom("baton_migration").selectAll().execute();
      expect(rows.map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version));
      await Promise.all(dbs.map((db) => db.close()));
    } finally {
      await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await admin.end();
    }
  });
});
