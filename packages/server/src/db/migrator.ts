import { sql, type Kysely } from "kysely";
import type { DialectOps } from "./dialect.js";
import type { DB } from "./schema.js";
import { MIGRATIONS, type Migration } from "./migrations/index.js";

/** An arbitrary fixed key for PostgreSQL's advisory lock that guards migrations. */
const MIGRATION_LOCK_KEY = 7_413_302_991;

/**
 * Brings the database up to the newest migration. All pending migrations run in one
 * transaction under a lock (an advisory lock on PostgreSQL, the write lock on SQLite), so
 * two servers starting at once apply each migration exactly once.
 */
export async function migrate(kysely: Kysely<DB>, dialect: DialectOps, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  return kysely.connection().execute(async (conn) => {
    await sql.raw(dialect.beginWrite).execute(conn);
    try {
      if (dialect.name === "postgres") {
        await sql`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK_KEY})`.execute(conn);
      }
      await sql
        .raw(`CREATE TABLE IF NOT EXISTS baton_migration (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)`)
        .execute(conn);
      const applied = new Set((await conn.selectFrom("baton_migration").select("version").execute()).map((r) => r.version));
      const ran: number[] = [];
      for (const migration of migrations) {
        if (applied.has(migration.version)) continue;
        for (const statement of migration.up(dialect)) await sql.raw(statement).execute(conn);
        await conn
          .insertInto("baton_migration")
          .values({ version: migration.version, name: migration.name, applied_at: new Date().toISOString() })
          .execute();
        ran.push(migration.version);
      }
      await sql`COMMIT`.execute(conn);
      return ran;
    } catch (error) {
      await sql`ROLLBACK`.execute(conn).catch(() => undefined);
      throw error;
    }
  });
}
