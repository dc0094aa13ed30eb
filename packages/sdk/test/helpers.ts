import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, type RunningServer } from "@baton/server";
import { BatonClient, configure } from "@baton/sdk";

export interface TestServer {
  server: RunningServer;
  client: BatonClient;
  close(): Promise<void>;
}

/**
 * A real server on a free port with its own SQLite file, and the SDK pointed at it
 * (`configure`, not the environment, so test files running in parallel do not interfere).
 */
export async function startTestServer(): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "baton-sdk-test-"));
  const server = await startServer({ config: { port: 0, databaseUrl: `sqlite:${join(dir, "baton.db")}`, logLevel: "silent" } });
  // Result records (persisted results, cache entries) go to the test's own folder, not ~/.baton.
  configure({ apiUrl: server.apiUrl, consoleLogs: false, localStoragePath: join(dir, "storage") });
  return {
    server,
    client: new BatonClient({ apiUrl: server.apiUrl }),
    async close() {
      configure({ apiUrl: null, consoleLogs: null, localStoragePath: null });
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The task runs of a flow run, in dynamic-key order per task. */
export async function taskRunsOf(client: BatonClient, flowRunId: string) {
  const runs = await client.filterTaskRuns({ task_runs: { flow_run_id: { any_: [flowRunId] } }, sort: "EXPECTED_START_TIME_ASC" });
  return runs.sort((a, b) => a.task_key.localeCompare(b.task_key) || Number(a.dynamic_key) - Number(b.dynamic_key));
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface FixtureOutcome {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a fixture script (packages/sdk/test/fixtures/NAME.ts) in a node process of its own, as
 * another machine would: its own BATON_HOME (so its own ephemeral server and database), with
 * result records under `storagePath`; `extraEnv` adds to that (e.g. `BATON_API_URL` to join the
 * test's server). Rejects if it has not exited within 60 s.
 */
export function runFixture(fixture: string, args: string[], home: string, storagePath: string, extraEnv: NodeJS.ProcessEnv = {}): Promise<FixtureOutcome> {
  const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, BATON_HOME: home, BATON_LOCAL_STORAGE_PATH: storagePath, BATON_CONSOLE_LOGS: "false" };
    delete env.BATON_API_URL;
    Object.assign(env, extraEnv);
    const child = spawn(process.execPath, ["--import", "tsx", `packages/sdk/test/fixtures/${fixture}.ts`, ...args], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`fixture did not exit within 60 s\n${stdout}\n${stderr}`));
    }, 60_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
