import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sleep, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

describe("interrupted scripts", () => {
  it("SIGTERM during a run marks the flow run and its task run CRASHED, then the process dies of the signal", async () => {
    const fixture = fileURLToPath(new URL("./fixtures/interrupted-flow.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture], {
      env: { ...process.env, BATON_API_URL: t.server.apiUrl, BATON_CONSOLE_LOGS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));

    // Wait until the task run is RUNNING.
    let flowRunId: string | undefined;
    for (let i = 0; i < 200 && flowRunId === undefined; i++) {
      const running = await t.client.filterTaskRuns({ task_runs: { state: { type: { any_: ["RUNNING"] } } } });
      flowRunId = running[0]?.flow_run_id ?? undefined;
      if (flowRunId === undefined) await sleep(50);
    }
    expect(flowRunId, stderr).toBeDefined();

    child.kill("SIGTERM");
    expect(await exited).toBe("SIGTERM");
    expect(stderr).toContain("marked CRASHED");

    const flowRun = await t.client.readFlowRun(flowRunId!);
    expect(flowRun.state_type).toBe("CRASHED");
    const [taskRun] = await t.client.filterTaskRuns({ task_runs: { flow_run_id: { any_: [flowRunId!] } } });
    expect(taskRun?.state_type).toBe("CRASHED");
    expect(taskRun?.state?.message).toBe("Execution was interrupted by SIGTERM");
  }, 30_000);
});
