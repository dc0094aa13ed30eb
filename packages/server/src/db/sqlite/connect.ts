import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import SqliteDatabase from "better-sqlite3";
import { Kysely, SqliteDialect } from "kysely";
import type { DB } from "../schema.js";
import { startCheckpointer, type CheckpointerLogger } from "./checkpointer.js";

/** Opens the embedded database file (creating its folder), in WAL mode, with its checkpoints in a worker thread. */
export function connectSqlite(path: string, logger?: CheckpointerLogger): { kysely: Kysely<DB>; close: () => Promise<void> } {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const database = new SqliteDatabase(path);
  database.pragma("journal_mode = WAL");
  // NORMAL is durable across application crashes in WAL mode; only an OS crash can lose
  // the last transactions, which is the trade SQLite documents for WAL.
  database.pragma("synchronous = NORMAL");
  // Another process holding the write lock (a second server, the SDK's ephemeral server)
  // makes us wait up to this long rather than answer "database is locked".
  database.pragma("busy_timeout = 30000");
  database.pragma("foreign_keys = ON");
  // A 64 MiB page cache keeps the hot indexes of runs and states in memory.
  database.pragma("cache_size = -65536");
  // Checkpoints (copying the log into the file, with fsyncs) run in a thread of their own; an
  // in-memory database has no log.
  const checkpointer = path === ":memory:" ? undefined : startCheckpointer(path, database, { logger });
  const kysely = new Kysely<DB>({ dialect: new SqliteDialect({ database: withStatementCache(database) }) });
  return {
    kysely,
    close: async () => {
      await checkpointer?.stop();
      await kysely.destroy();
    },
  };
}

/**
 * Kysely prepares every statement anew, which costs more than running it for the short
 * statements of the hot paths. The same SQL text always yields the same statement, so
 * prepared statements are reused, up to a bound (filter queries vary with their criteria).
 */
function withStatementCache(database: SqliteDatabase.Database, capacity = 500): SqliteDatabase.Database {
  const cache = new Map<string, SqliteDatabase.Statement>();
  const prepare = database.prepare.bind(database);
  return new Proxy(database, {
    get(target, property, receiver) {
      if (property !== "prepare") {
        const value = Reflect.get(target, property, receiver) as unknown;
        return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      }
      return (source: string) => {
        let statement = cache.get(source);
        if (!statement) {
          statement = prepare(source);
          if (cache.size >= capacity) cache.delete(cache.keys().next().value!);
          cache.set(source, statement);
        }
        return statement;
      };
    },
  });
}
