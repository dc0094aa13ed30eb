import { sql, type Kysely } from "kysely";
import type { DialectOps } from "./dialect.js";
import type { DB } from "./schema.js";
import { sqliteDialect } from "./sqlite/dialect.js";
import { connectSqlite } from "./sqlite/connect.js";
import type { CheckpointerLogger } from "./sqlite/checkpointer.js";
import { postgresDialect } from "./postgres/dialect.js";
import { connectPostgres } from "./postgres/connect.js";
import { migrate } from "./migrator.js";

/** A query runner: the database itself or a transaction on it. */
export type Executor = Kysely<DB>;

export interface Database {
  readonly kysely: Kysely<DB>;
  /**
   * For the single statements that take and give back concurrency slots: on PostgreSQL a
   * pool of its own (`RESERVED_POOL_SIZE` connections), so that a slot request does not wait
   * for a connection behind the main pool's transactions (1,000 flow runs proposing states
   * kept all ten busy, and acquisitions queued 50 ms for one); on SQLite the one connection.
   */
  readonly reserved: Kysely<DB>;
  readonly dialect: DialectOps;
  /**
   * Runs `fn` in a write transaction. On SQLite the one connection is held for the whole
   * transaction (Kysely's connection mutex), so writers in this process queue rather than
   * collide; on PostgreSQL a pooled connection is used and rows are locked explicitly.
   */
  write<T>(fn: (trx: Executor) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface DatabaseOptions {
  url: string;
  schema?: string | undefined;
  poolSize?: number;
  /** Where background failures of the database go (SQLite's checkpointer); default process warnings. */
  logger?: CheckpointerLogger | undefined;
}

/** Connections of the PostgreSQL pool kept for slot statements (`Database.reserved`), beyond `poolSize`. */
export const RESERVED_POOL_SIZE = 2;

/** Opens the database named by `url` and runs pending migrations before returning. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  const isPostgres = /^postgres(ql)?:\/\//.test(options.url);
  const dialect = isPostgres ? postgresDialect : sqliteDialect;
  const connection = isPostgres
    ? connectPostgres(options.url, { schema: options.schema, poolSize: options.poolSize ?? 10 })
    : connectSqlite(options.url.replace(/^(sqlite|file):(\/\/)?/, ""), options.logger);
  const { kysely } = connection;
  const reserved = isPostgres ? connectPostgres(options.url, { schema: options.schema, poolSize: RESERVED_POOL_SIZE }) : undefined;
  const close = async () => {
    await Promise.all([connection.close(), reserved?.close()]);
  };
  try {
    if (isPostgres && options.schema) {
      await sql.raw(`CREATE SCHEMA IF NOT EXISTS "${options.schema}"`).execute(kysely);
    }
    await migrate(kysely, dialect);
  } catch (error) {
    await close();
    throw error;
  }
  return {
    kysely,
    reserved: reserved?.kysely ?? kysely,
    dialect,
    write: (fn) =>
      kysely.connection().execute(async (conn) => {
        await sql.raw(dialect.beginWrite).execute(conn);
        try {
          const result = await fn(conn);
          await sql`COMMIT`.execute(conn);
          return result;
        } catch (error) {
          await sql`ROLLBACK`.execute(conn).catch(() => undefined);
          throw error;
        }
      }),
    close,
  };
}
