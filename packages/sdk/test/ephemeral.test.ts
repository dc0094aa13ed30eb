import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { startServer } from "@baton/server";
import { BatonClient } from "@baton/sdk";

const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
const home = mkdtempSync(join(tmpdir(), "baton-sdk-ephemeral-"));
afterAll(() => rmSync(home, { recursive: true, force: true }));

function runExample(file: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", file], { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    // The script must exit by itself: the temporary server may not keep it alive.
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`${file} did not exit within 45 s\nstdout:\n${stdout}\nstderr:\n${stderr}`));
    }, 45_000);
    child.on("error", reject);
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe("ephemeral mode", () => {
  it("examples/hello.ts runs with no server set up, records its runs in $BATON_HOME/baton.db, and exits", async () => {
    const env: NodeJS.ProcessEnv = { ...process.env, BATON_HOME: home };
    delete env.BATON_API_URL;
    delete env.BATON_DATABASE_URL;
    const { code, stdout, stderr } = await runExample("examples/hello.ts", env);
    expect(code, stderr).toBe(0);
    const flowRunId = /flow run id: ([0-9a-f-]{36})/.exec(stdout)?.[1];
    expect(flowRunId, stdout).toBeDefined();
    expect(stdout).toContain(`result: {"numbers":[1,2,3,4,5],"squares":[1,4,9,16,25],"sum":55,"sentence":"the squares of 1..5 add up to 55"}`);
    // logPrints still prints.
    expect(stdout).toContain("the squares of 1..5 add up to 55\n");
    expect(existsSync(join(home, "baton.db"))).toBe(true);

    // The runs outlive the temporary server: open the same database and look.
    const server = await startServer({ config: { port: 0, databaseUrl: `sqlite:${join(home, "baton.db")}`, logLevel: "silent" } });
    try {
      const client = new BatonClient({ apiUrl: server.apiUrl });
      const run = await client.readFlowRun(flowRunId!);
      expect(run.state_type).toBe("COMPLETED");
      expect(run.parameters).toEqual({ count: 5 });
      const taskRuns = await client.filterTaskRuns({ task_runs: { flow_run_id: { any_: [run.id] } } });
      expect(taskRuns).toHaveLength(8); // fetch-numbers, 5 x square, total, describe
      expect(taskRuns.every((tr) => tr.state_type === "COMPLETED")).toBe(true);
      const fetch = taskRuns.find((tr) => tr.name.startsWith("fetch-numbers"));
      expect(fetch?.run_count).toBe(2);
      const history = await client.readTaskRunStates(fetch!.id);
      expect(history.map((s) => s.name)).toContain("AwaitingRetry");
      const logs = await client.filterLogs({ logs: { flow_run_id: { any_: [run.id] } }, limit: 200 });
      expect(logs.some((l) => l.message === "the squares of 1..5 add up to 55")).toBe(true);
      expect(logs.some((l) => l.message === "fetched 5 numbers on attempt 2")).toBe(true);
    } finally {
      await server.close();
    }
  }, 60_000);
});
