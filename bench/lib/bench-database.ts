import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import type { DatabaseKind } from "./args.js";

const REPO_ROOT = dirname(dirname(dirname(fileURLToPath(import.meta.url))));

export const DEFAULT_POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/test";

/** A fresh database for one benchmarked server: its environment, and how to remove it. */
export interface BenchDatabase {
  /** A temporary BATON_HOME, removed by `release()`. */
  home: string;
  /** BATON_HOME, BATON_DATABASE_URL (and BATON_DATABASE_SCHEMA, PGAPPNAME on PostgreSQL). */
  env: Record<string, string>;
  /** Where the data lives, for the report (passwords redacted). */
  where: string;
  /** PIDs of the PostgreSQL backends serving the server (found by application_name). */
  backendPids?: () => Promise<number[]>;
  /** Drops the PostgreSQL schema and removes the temporary home. */
  release(): Promise<void>;
}

/**
 * A fresh SQLite file in a temporary BATON_HOME, or a fresh PostgreSQL schema
 * (`bench_<pid>_<time>`) that is dropped afterwards, so that no run of a benchmark sees
 * another's data.
 */
export function prepareDatabase(database: DatabaseKind, postgresUrl: string): BenchDatabase {
  const home = mkdtempSync(join(tmpdir(), "baton-bench-"));
  const env: Record<string, string> = { BATON_HOME: home };
  const removeHome = (): void => rmSync(home, { recursive: true, force: true });
  if (database === "sqlite") {
    env.BATON_DATABASE_URL = `sqlite:${join(home, "bench.db")}`;
    return { home, env, where: env.BATON_DATABASE_URL, release: async () => removeHome() };
  }
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`;
  env.BATON_DATABASE_URL = postgresUrl;
  env.BATON_DATABASE_SCHEMA = schema;
  // node-postgres names its connections after PGAPPNAME, which lets us find the server's
  // backends in pg_stat_activity and read their CPU (PostgreSQL shares our two cores).
  env.PGAPPNAME = schema;
  return {
    home,
    env,
    where: `${redact(postgresUrl)} schema ${schema}`,
    backendPids: () => backendsNamed(postgresUrl, schema),
    release: async () => {
      try {
        await dropSchema(postgresUrl, schema);
      } finally {
        removeHome();
      }
    },
  };
}

async function dropSchema(url: string, schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

async function backendsNamed(url: string, applicationName: string): Promise<number[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [applicationName]);
    return rows.map((r) => r.pid);
  } finally {
    await client.end();
  }
}

/** The commit the server was built from, and whether packages/ had uncommitted changes. */
export function serverBuild(): string {
  try {
    const git = (...args: string[]): string => execFileSync("git", args, { cwd: REPO_ROOT, encoding: "utf8" }).trim();
    const dirty = git("status", "--porcelain", "--", "packages") !== "";
    return `${git("rev-parse", "--short", "HEAD")}${dirty ? " + uncommitted changes in packages/" : ""}`;
  } catch {
    return "unknown (not a git checkout)";
  }
}

export function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):([^@/]+)@/, "//$1:***@");
}
