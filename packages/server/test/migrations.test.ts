import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MIGRATIONS, openDatabase } from "@baton/server";
import pg from "pg";
import { connectPostgres } from "../src/db/postgres/connect.js";
import { postgresDialect } from "../src/db/postgres/dialect.js";
import { migrate } from "../src/db/migrator.js";
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

  describe("0011 (the GIN index over event.related) on PostgreSQL", () => {
    /** A schema migrated up to 0010, as a server before the upgrade left it, with two events. */
    async function before0011(admin: pg.Client): Promise<string> {
      const schema = `mig11_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
      await admin.query(`CREATE SCHEMA "${schema}"`);
      const old = connectPostgres(POSTGRES_URL, { schema, poolSize: 1 });
      try {
        await migrate(old.kysely, postgresDialect, MIGRATIONS.filter((m) => m.version < 11));
      } finally {
        await old.close();
      }
      for (let i = 0; i < 2; i++) {
        await admin.query(
          `INSERT INTO "${schema}".event (id, occurred, received, event, resource_id, resource, related, payload) VALUES (gen_random_uuid(), now(), now(), 'same', 'r', '{}', '[]', '{}')`,
        );
      }
      return schema;
    }
    const indexOf = async (admin: pg.Client, schema: string) =>
      (
        // Its oid too: an index dropped and built again has the same definition but a new oid.
        await admin.query<{ oid: string; indexdef: string; valid: boolean }>(
          `SELECT c.oid::text AS oid, pg_get_indexdef(c.oid) AS indexdef, i.indisvalid AS valid FROM pg_class c JOIN pg_index i ON i.indexrelid = c.oid WHERE c.relname = 'ix_event_related' AND c.relnamespace = $1::regnamespace`,
          [schema],
        )
      ).rows;

    it("succeeds when an operator built the index CONCURRENTLY before upgrading, and keeps that index", async () => {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      let schema: string | undefined;
      try {
        schema = await before0011(admin);
        // The statement the README gives operators.
        await admin.query(`CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_event_related ON "${schema}".event USING GIN (related jsonb_path_ops)`);
        const [built] = await indexOf(admin, schema);
        const db = await openDatabase({ url: POSTGRES_URL, schema });
        const versions = (await db.kysely.selectFrom("baton_migration").select("version").execute()).map((r) => r.version);
        await db.close();
        expect(versions).toEqual(MIGRATIONS.map((m) => m.version));
        expect(await indexOf(admin, schema)).toEqual([built]);
        expect(built).toMatchObject({ valid: true, indexdef: expect.stringContaining("USING gin (related jsonb_path_ops)") as string });
      } finally {
        if (schema) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      }
    });

    it("drops an INVALID leftover of an interrupted concurrent build and builds the index", async () => {
      const admin = new pg.Client({ connectionString: POSTGRES_URL });
      await admin.connect();
      let schema: string | undefined;
      try {
        schema = await before0011(admin);
        // A concurrent build that fails (here: duplicates for a unique index) leaves its index INVALID.
        await expect(admin.query(`CREATE UNIQUE INDEX CONCURRENTLY ix_event_related ON "${schema}".event (event)`)).rejects.toThrow();
        expect(await indexOf(admin, schema)).toMatchObject([{ valid: false }]);
        const [leftover] = await indexOf(admin, schema);
        const db = await openDatabase({ url: POSTGRES_URL, schema });
        await db.close();
        const rebuilt = await indexOf(admin, schema);
        expect(rebuilt).toEqual([{ oid: expect.any(String) as string, valid: true, indexdef: expect.stringContaining("USING gin (related jsonb_path_ops)") as string }]);
        expect(rebuilt[0]?.oid).not.toBe(leftover?.oid);
      } finally {
        if (schema) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      }
    });
  });
});
