import type { FlowRun, LogCreate } from "@baton/core";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, runCli, spawnCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;
let flowId: string;

beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
  flowId = (await t.client.createFlow({ name: "chatty" })).id;
});

afterAll(async () => {
  await t?.close();
});

async function runningFlowRun(): Promise<FlowRun> {
  const run = await t.client.createFlowRun({ flow_id: flowId, state: { type: "PENDING" } });
  const result = await t.client.setFlowRunState(run.id, { type: "RUNNING" });
  if (result.status !== "ACCEPT") throw new Error(`RUNNING refused: ${result.status}`);
  return run;
}

function log(flowRunId: string, message: string, at: Date, level = 20): LogCreate {
  return { name: "prefect.flow_runs", level, message, timestamp: at.toISOString(), flow_run_id: flowRunId };
}

/** The message part of each printed log line. */
function messages(stdout: string): string[] {
  return lines(stdout).map((line) => line.slice(line.indexOf(" - ") + 3));
}

describe("baton flow-run logs", () => {
  it("prints the logs oldest first with time, level and logger", async () => {
    const run = await runningFlowRun();
    const base = Date.parse("2026-01-01T10:00:00.000Z");
    // Sent out of order: the CLI must print them by timestamp.
    await t.client.createLogs([
      log(run.id, "third", new Date(base + 2000), 40),
      log(run.id, "first", new Date(base)),
      log(run.id, "second", new Date(base + 1000), 30),
    ]);
    const result = await runCli(["flow-run", "logs", run.id], env);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(lines(result.stdout)).toEqual([
      "2026-01-01 10:00:00.000 | INFO     | prefect.flow_runs - first",
      "2026-01-01 10:00:01.000 | WARNING  | prefect.flow_runs - second",
      "2026-01-01 10:00:02.000 | ERROR    | prefect.flow_runs - third",
    ]);
  });

  it("pages through more logs than one request returns, and --limit caps them", async () => {
    const run = await runningFlowRun();
    const base = Date.parse("2026-01-01T12:00:00.000Z");
    const all = Array.from({ length: 450 }, (_, i) => log(run.id, `line ${i}`, new Date(base + i * 10)));
    await t.client.createLogs(all.slice(0, 200));
    await t.client.createLogs(all.slice(200, 400));
    await t.client.createLogs(all.slice(400));

    const result = await runCli(["flow-run", "logs", run.id], env);
    expect(result.code).toBe(0);
    expect(messages(result.stdout)).toEqual(all.map((l) => l.message));

    const limited = await runCli(["flow-run", "logs", run.id, "--limit", "205"], env);
    expect(messages(limited.stdout)).toEqual(all.slice(0, 205).map((l) => l.message));
  });

  it("prints nothing for a run without logs", async () => {
    const run = await runningFlowRun();
    expect(await runCli(["flow-run", "logs", run.id], env)).toMatchObject({ code: 0, stdout: "", stderr: "" });
  });

  it("--follow keeps printing new logs until the run completes", async () => {
    const run = await runningFlowRun();
    await t.client.createLogs([log(run.id, "starting up", new Date())]);
    const cli = spawnCli(["flow-run", "logs", run.id, "--follow"], env);
    await cli.waitForStdout("starting up");
    expect(cli.child.exitCode).toBeNull();

    await t.client.createLogs([log(run.id, "working hard", new Date())]);
    await cli.waitForStdout("working hard");
    expect(cli.child.exitCode).toBeNull();

    // Logs arrive in batches, so one may be older than lines already printed: still shown, once.
    await t.client.createLogs([log(run.id, "late arrival", new Date(Date.now() - 3000))]);
    await cli.waitForStdout("late arrival");

    await t.client.createLogs([log(run.id, "all done", new Date())]);
    const completed = await t.client.setFlowRunState(run.id, { type: "COMPLETED" });
    expect(completed.status).toBe("ACCEPT");
    // The SDK logs "Finished in state ..." after the final state and flushes it later; the CLI
    // waits 2 s after the final state for such lines. Sent after its next poll (1 s) has seen
    // the state, this line is printed only thanks to that wait.
    await sleep(1200);
    await t.client.createLogs([log(run.id, "flushed late", new Date())]);

    const result = await cli.result;
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(messages(result.stdout)).toEqual(["starting up", "working hard", "late arrival", "all done", "flushed late"]);
  });

  it("--follow on a finished run prints its logs and exits", async () => {
    const run = await runningFlowRun();
    await t.client.createLogs([log(run.id, "only line", new Date(Date.now() - 60_000))]);
    await t.client.setFlowRunState(run.id, { type: "FAILED" });
    const started = Date.now();
    const result = await runCli(["flow-run", "logs", run.id, "--follow"], env);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(messages(result.stdout)).toEqual(["only line"]);
    // Waits at most the flush grace (2 s), never for another state.
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});
