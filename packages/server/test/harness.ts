import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { startServer, type Clock, type RunningServer, type ServerConfig } from "@baton/server";

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
}

let counter = 0;

/** A server on its own database; background services stay off unless a test asks for them. */
export async function startTestServer(
  dialect: DialectName,
  options: { services?: boolean; config?: Partial<ServerConfig>; clock?: Clock } = {},
): Promise<TestServer> {
  const name = `t_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  let cleanup: () => Promise<void>;
  let databaseUrl: string;
  let databaseSchema: string | undefined;
  if (dialect === "sqlite") {
    const dir = mkdtempSync(join(tmpdir(), "baton-test-"));
    databaseUrl = `sqlite:${join(dir, "baton.db")}`;
    cleanup = async () => rmSync(dir, { recursive: true, force: true });
  } else {
    databaseUrl = POSTGRES_URL;
    databaseSchema = name;
    cleanup = () => dropSchema(name);
  }
  const server = await startServer({ config: { port: 0, host: "127.0.0.1", databaseUrl, databaseSchema, logLevel: "silent", databasePoolSize: 20, ...options.config },
    services: options.services ?? false,
    ...(options.clock ? { clock: options.clock } : {}),
  });
  const close = server.close;
  return {
    ...server,
    dialect,
    close: async () => {
      await close();
      await cleanup();
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
