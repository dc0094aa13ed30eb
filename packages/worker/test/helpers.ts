import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import type { Deployment, FlowRun, State, StateType } from "@baton/core";
import { BatonClient } from "@baton/sdk";
import { SERVICE_NAMES, startServer, type RunningServer, type ServerConfig } from "@baton/server";
import pg from "pg";

/** Every worker test runs once per database. */
export const DIALECTS = ["sqlite", "postgres"] as const;
export type DialectName = (typeof DIALECTS)[number];
const POSTGRES_URL = process.env["BATON_TEST_POSTGRES_URL"] ?? "postgresql://postgres@127.0.0.1:5432/test";

/** The built CLI launcher; run `npx tsc -b` first. */
export const BATON_BIN = fileURLToPath(new URL("../../cli/bin/baton.js", import.meta.url));
export const FIXTURES = fileURLToPath(new URL("./fixtures/", import.meta.url));

export interface TestServer {
  server: RunningServer;
  client: BatonClient;
  apiUrl: string;
  /** A scratch folder removed on close (recorder files go here). */
  dir: string;
  close(): Promise<void>;
}

let counter = 0;

/**
 * A real server on a free port, on its own SQLite file or PostgreSQL schema. `zombies`
 * turns on the zombies service alone, checking every second with the given timeout.
 */
export async function startTestServer(dialect: DialectName, options: { zombieTimeoutSeconds?: number } = {}): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "baton-worker-test-"));
  const schema = `w_${process.pid}_${Date.now().toString(36)}_${counter++}`;
  const services = Object.fromEntries(
    SERVICE_NAMES.map((name) => [name, { enabled: name === "zombies" && options.zombieTimeoutSeconds !== undefined, loopSeconds: 1 }]),
  ) as ServerConfig["services"];
  const server = await startServer({
    config: {
      host: "127.0.0.1",
      port: 0,
      logLevel: "silent",
      databaseUrl: dialect === "sqlite" ? `sqlite:${join(dir, "baton.db")}` : POSTGRES_URL,
      databaseSchema: dialect === "sqlite" ? undefined : schema,
      databasePoolSize: 20,
      services,
      zombieHeartbeatTimeoutSeconds: options.zombieTimeoutSeconds ?? 90,
    },
    services: options.zombieTimeoutSeconds !== undefined,
  });
  return {
    server,
    client: new BatonClient({ apiUrl: server.apiUrl }),
    apiUrl: server.apiUrl,
    dir,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
      if (dialect === "postgres") await dropSchema(schema);
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

/** A work pool, a flow and a deployment of `fixtures/<file>:<exportName>` (file default `flows.ts`) in that pool. */
export async function deploy(
  client: BatonClient,
  options: {
    pool: string;
    exportName: string;
    flowName: string;
    file?: string;
    concurrencyLimit?: number;
    parameters?: Record<string, unknown>;
    jobVariables?: Record<string, unknown>;
  },
): Promise<Deployment> {
  await client.request("POST", "/work_pools/", { name: options.pool, type: "process", concurrency_limit: options.concurrencyLimit ?? null }).catch((error: unknown) => {
    if (!(error instanceof Error && / 409:/.test(error.message))) throw error;
  });
  const flow = await client.createFlow({ name: options.flowName });
  return client.request<Deployment>("POST", "/deployments/", {
    name: `${options.exportName}-deployment`,
    flow_id: flow.id,
    work_pool_name: options.pool,
    path: FIXTURES,
    entrypoint: `${options.file ?? "flows.ts"}:${options.exportName}`,
    parameters: options.parameters ?? {},
    job_variables: options.jobVariables ?? {},
  });
}

export function createRun(client: BatonClient, deploymentId: string, parameters: Record<string, unknown> = {}): Promise<FlowRun> {
  return client.request<FlowRun>("POST", `/deployments/${deploymentId}/create_flow_run`, { parameters });
}

/** The environment of a worker (and so of its runs): no BATON_* of the machine, fast heartbeats. */
export function workerEnv(apiUrl: string, env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("BATON_")));
  return { ...clean, BATON_API_URL: apiUrl, BATON_FLOW_RUN_HEARTBEAT_SECONDS: "1", ...env };
}

export interface RunningWorker {
  child: ChildProcess;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  output(): string;
}

/** `baton worker start --pool <pool> ...` as a child process, polling fast. */
export function spawnWorker(apiUrl: string, pool: string, args: string[] = [], env: Record<string, string> = {}): RunningWorker {
  const child = spawn(
    process.execPath,
    [BATON_BIN, "worker", "start", "--pool", pool, "--query-seconds", "0.2", "--prefetch-seconds", "1", "--heartbeat-seconds", "5", ...args],
    { env: workerEnv(apiUrl, env), stdio: ["ignore", "pipe", "pipe"] },
  );
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  return { child, exited, output: () => output };
}

/** Polls `read` until it returns something other than undefined. */
export async function waitFor<T>(read: () => Promise<T | undefined>, what: string, timeoutMs = 30_000, context: () => string = () => ""): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}. ${context()}`);
    await sleep(100);
  }
}

/** Waits until the run is in one of `types` and returns it. */
export function waitForState(client: BatonClient, runId: string, types: StateType[], timeoutMs = 30_000, context?: () => string): Promise<FlowRun> {
  let last: FlowRun | undefined;
  return waitFor(
    async () => {
      last = await client.readFlowRun(runId);
      return last.state_type !== null && types.includes(last.state_type) ? last : undefined;
    },
    `flow run ${runId} to be ${types.join(" or ")}`,
    timeoutMs,
    () => `It is ${last?.state_name ?? last?.state_type}: ${last?.state?.message ?? ""}. ${context?.() ?? ""}`,
  );
}

/** The run's states, oldest first. */
export async function stateHistory(client: BatonClient, runId: string): Promise<State[]> {
  const states = await client.readFlowRunStates(runId);
  return states.sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
}

export interface Recorded {
  event: "start" | "end";
  runId: string;
  runCount: number;
  at: number;
}

/** The lines the fixture flows appended to a recorder file. */
export function readRecorder(file: string): Recorded[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line.length > 0)
    .map((line) => {
      const [event, runId, runCount, at] = line.split(" ");
      return { event: event as "start" | "end", runId: runId!, runCount: Number(runCount), at: Number(at) };
    });
}

/** True while a process group has a process left. */
export function groupAlive(pid: number): boolean {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The pid part of `infrastructure_pid` (`<hostname>:<pid>`). */
export function pidOf(run: FlowRun): number {
  const pid = Number(run.infrastructure_pid?.split(":").pop());
  if (!Number.isInteger(pid)) throw new Error(`flow run ${run.id} has no infrastructure pid: ${run.infrastructure_pid}`);
  return pid;
}
