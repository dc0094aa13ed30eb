import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startServer, type RunningServer, type ServerConfig } from "@baton/server";

/**
 * Storage tests run once per dialect. Each server gets its own SQLite file or its own
 * PostgreSQL schema, so test files can run in parallel without seeing each other's rows.
 */
export const DIALECTS = ["sqlite", "postgres"] as const;
export type DialectName = (typeof DIALECTS)[number];

export const POSTGRES_URL = process.env.BATON_TEST_POSTGRES_URL ?? "postgresql://postgres@127.0.0.1:5432/test";

export interface TestServer extends RunningServer {
  dialect: DialectName;
  /** Sends a JSON request to `/api{path}` and returns status and parsed body. */
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
  /** Resolves once the persister stored the events with these ids (events are stored off the request). */
  persisted(ids: readonly string[]): Promise<void>;
}

/** Polls `check` every 10 ms until it returns true; fails after `timeoutMs`. */
export async function eventually(check: () => Promise<boolean> | boolean, timeoutMs = 10_000, what = "condition"): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

let counter = 0;

/** A server on its own database; background services stay off unless a test asks for them. */
export async function startTestServer(
  dialect: DialectName,
  options: { services?: boolean; config?: Partial<ServerConfig>; shareDatabaseWith?: TestServer } = {},
): Promise<TestServer> {
  const name = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  let cleanup: () => Promise<void>;
  let databaseUrl: string;
  let databaseSchema: string | undefined;
  if (options.shareDatabaseWith) {
    // A second server on the first one's database (the first one cleans it up).
    databaseUrl = options.shareDatabaseWith.config.databaseUrl;
    databaseSchema = options.shareDatabaseWith.config.databaseSchema;
    cleanup = async () => undefined;
  } else if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "baton-test-"));
    databaseUrl = `sqlite:${join(dir, "baton.db")}`;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    databaseUrl = POSTGRES_URL;
    databaseSchema = name;
    cleanup = () => dropSchema(name);
  }
  const server = await startServer({
    config: { port: 0, host: "127.0.0.1", databaseUrl, databaseSchema, logLevel: "silent", databasePoolSize: 20, ...options.config },
    services: options.services ?? false,
  });
  const close = server.close;
  return {
    ...server,
    dialect,
    close: async () => {
      await close();
      await cleanup();
    },
    persisted: (ids) => {
      const wanted = [...new Set(ids)];
      return eventually(
        async () => {
          if (wanted.length === 0) return true;
          const row = await server.db.kysely.selectFrom("event").select((eb) => eb.fn.countAll<number | string>().as("n")).where("id", "in", wanted).executeTakeFirstOrThrow();
          return Number(row.n) === wanted.length;
        },
        10_000,
        `${wanted.length} events to be persisted`,
      );
    },
    call: async <T>(method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.apiUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
    },
  };
}

async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
