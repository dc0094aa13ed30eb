import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, startServer } from "@baton/server";
import type { Deployment, FlowRun } from "@baton/core";
import { BatonClient, configure, flow, flowParameterSchema, InvalidOptionError, serve, type ServeDeployment, type ServeOptions } from "@baton/sdk";
import { sleep, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

/** Polls until `check` returns something other than undefined (or fails after `timeoutMs`). */
async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

async function readDeployment(client: BatonClient, fullName: string): Promise<Deployment | undefined> {
  try {
    return await client.request<Deployment>("GET", `/deployments/name/${fullName}`);
  } catch {
    return undefined;
  }
}

function createRun(client: BatonClient, deploymentId: string, parameters: Record<string, unknown> = {}): Promise<FlowRun> {
  return client.request<FlowRun>("POST", `/deployments/${deploymentId}/create_flow_run`, { parameters });
}

async function waitForFinal(client: BatonClient, runId: string): Promise<FlowRun> {
  return waitFor(`flow run ${runId} to finish`, async () => {
    const run = await client.readFlowRun(runId);
    return ["COMPLETED", "FAILED", "CRASHED", "CANCELLED"].includes(run.state_type ?? "") ? run : undefined;
  });
}

/** Starts serve() in this process with a signal to stop it; signals of the process are left alone. */
function startServing(deployments: Parameters<typeof serve>[0], options: ServeOptions = {}) {
  const controller = new AbortController();
  const served = serve(deployments, { pollIntervalSeconds: 0.2, handleSignals: false, ...options, signal: controller.signal });
  return {
    served,
    async stop() {
      controller.abort();
      await served;
    },
  };
}

describe("serve()", () => {
  it("registers a deployment per flow: schedules, parameters, tags, concurrency and a parameter schema read from the flow", async () => {
    const etl = flow({ name: "serve-etl", description: "loads things", version: "7" }, async function etl(date: string, limit = 100, dryRun = false) {
      return [date, limit, dryRun];
    });
    const bare = flow({ name: "serve-bare" }, function bare() {
      return 1;
    });
    const serving = startServing([
      {
        flow: etl,
        name: "nightly",
        schedules: [{ cron: "0 3 * * *", timezone: "Europe/Berlin" }, { interval: 3600, active: false }],
        parameters: { limit: 5 },
        tags: ["etl"],
        concurrencyLimit: 2,
      },
      bare,
    ], { pauseOnShutdown: false });
    const nightly = await waitFor("the nightly deployment", () => readDeployment(t.client, "serve-etl/nightly"));
    const bareDeployment = await waitFor("the bare deployment", () => readDeployment(t.client, "serve-bare/serve-bare"));
    await serving.stop();

    expect(nightly.schedules.map((s) => [s.schedule, s.active])).toEqual([
      [{ cron: "0 3 * * *", timezone: "Europe/Berlin", day_or: true }, true],
      [expect.objectContaining({ interval: 3600 }), false],
    ]);
    expect(nightly).toMatchObject({
      parameters: { limit: 5 },
      tags: ["etl"],
      concurrency_limit: 2,
      description: "loads things",
      version: "7",
      work_pool_name: null,
      paused: false,
      parameter_openapi_schema: {
        title: "Parameters",
        type: "object",
        properties: {
          date: { title: "date", position: 0 },
          limit: { title: "limit", position: 1, type: "number", default: 100 },
          dryRun: { title: "dryRun", position: 2, type: "boolean", default: false },
        },
        required: ["date"],
      },
    });
    // Polling marks a served deployment READY.
    expect(bareDeployment.status).toBe("READY");
    expect(bareDeployment.schedules).toEqual([]);
  });

  it("runs a run requested through create_flow_run in this process, with its parameters, to COMPLETED", async () => {
    const seen: unknown[] = [];
    const greet = flow({ name: "serve-greet" }, function greet(who: string, punctuation = "!") {
      seen.push(who);
      return `hello ${who}${punctuation}`;
    });
    const serving = startServing([{ flow: greet, name: "requested" }]);
    try {
      const deployment = await waitFor("the deployment", () => readDeployment(t.client, "serve-greet/requested"));
      const run = await createRun(t.client, deployment.id, { who: "world" });
      const finished = await waitForFinal(t.client, run.id);
      expect(finished.state_type).toBe("COMPLETED");
      expect(finished.run_count).toBe(1);
      expect(seen).toEqual(["world"]);
      const states = await t.client.readFlowRunStates(run.id);
      expect(states.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]);
    } finally {
      await serving.stop();
    }
  });

  it("a run whose flow fails ends FAILED and serving goes on", async () => {
    const flaky = flow({ name: "serve-flaky" }, function flaky(fail: boolean) {
      if (fail) throw new Error("asked to fail");
      return "fine";
    });
    const serving = startServing([{ flow: flaky, name: "flaky" }]);
    try {
      const deployment = await waitFor("the deployment", () => readDeployment(t.client, "serve-flaky/flaky"));
      const failing = await createRun(t.client, deployment.id, { fail: true });
      expect((await waitForFinal(t.client, failing.id)).state_type).toBe("FAILED");
      const passing = await createRun(t.client, deployment.id, { fail: false });
      expect((await waitForFinal(t.client, passing.id)).state_type).toBe("COMPLETED");
    } finally {
      await serving.stop();
    }
  });

  it("retries a failed run in this process (its AwaitingRetry state is not claimed again)", async () => {
    let attempts = 0;
    const shaky = flow({ name: "serve-shaky", retries: 1, retryDelaySeconds: 0.6 }, function shaky() {
      attempts++;
      if (attempts === 1) throw new Error("first attempt fails");
      return attempts;
    });
    const serving = startServing([{ flow: shaky, name: "shaky" }]);
    try {
      const deployment = await waitFor("the deployment", () => readDeployment(t.client, "serve-shaky/shaky"));
      const run = await createRun(t.client, deployment.id);
      const finished = await waitForFinal(t.client, run.id);
      expect(finished.state_type).toBe("COMPLETED");
      expect(finished.run_count).toBe(2);
      // Polls went on while it waited to be retried; none of them claimed it.
      await sleep(400);
      expect(attempts).toBe(2);
      const states = await t.client.readFlowRunStates(run.id);
      expect(states.map((s) => s.name)).toEqual(["Scheduled", "Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]);
    } finally {
      await serving.stop();
    }
  });

  it("runs at most `limit` flow runs at once", async () => {
    let running = 0;
    let mostInProcess = 0;
    const slow = flow({ name: "serve-slow" }, async function slow(ms: number) {
      running++;
      mostInProcess = Math.max(mostInProcess, running);
      await sleep(ms);
      running--;
    });
    const serving = startServing([{ flow: slow, name: "limited" }], { limit: 2 });
    try {
      const deployment = await waitFor("the deployment", () => readDeployment(t.client, "serve-slow/limited"));
      const runs = await Promise.all(Array.from({ length: 6 }, () => createRun(t.client, deployment.id, { ms: 400 })));
      const ids = runs.map((r) => r.id);
      // Sample the server: never more than 2 of them PENDING or RUNNING (claimed) at once.
      let mostOnServer = 0;
      for (;;) {
        const current = await t.client.filterFlowRuns({ flow_runs: { id: { any_: ids } } });
        const claimed = current.filter((r) => r.state_type === "PENDING" || r.state_type === "RUNNING").length;
        mostOnServer = Math.max(mostOnServer, claimed);
        if (current.every((r) => r.state_type === "COMPLETED")) break;
        expect(current.some((r) => r.state_type === "FAILED" || r.state_type === "CRASHED")).toBe(false);
        await sleep(25);
      }
      expect(mostOnServer).toBeLessThanOrEqual(2);
      expect(mostInProcess).toBe(2);
    } finally {
      await serving.stop();
    }
  });

  it("stops when its signal is aborted: claims nothing more and resolves once the run in progress has finished", async () => {
    const nap = flow({ name: "serve-abort-nap" }, async function nap(ms: number) {
      await sleep(ms);
      return ms;
    });
    const serving = startServing([{ flow: nap, name: "abort" }]);
    const deployment = await waitFor("the deployment", () => readDeployment(t.client, "serve-abort-nap/abort"));
    const inProgress = await createRun(t.client, deployment.id, { ms: 800 });
    await waitFor("the run to be RUNNING", async () => ((await t.client.readFlowRun(inProgress.id)).state_type === "RUNNING" ? true : undefined));

    await serving.stop();
    // Resolved only after the run in progress finished.
    expect((await t.client.readFlowRun(inProgress.id)).state_type).toBe("COMPLETED");

    const later = await createRun(t.client, deployment.id, { ms: 1 });
    await sleep(600);
    expect((await t.client.readFlowRun(later.id)).state_type).toBe("SCHEDULED");
  });

  it("pauses its scheduled deployments when it stops, and the next serve() un-pauses them", async () => {
    const tick = flow({ name: "serve-tick" }, function tick() {
      return 1;
    });
    const unscheduled = flow({ name: "serve-unscheduled" }, function unscheduled() {
      return 1;
    });
    const deployments: ServeDeployment[] = [
      { flow: tick, name: "hourly", schedules: [{ interval: 3600 }] },
      { flow: unscheduled, name: "manual" },
    ];
    let serving = startServing(deployments);
    await waitFor("the deployment", () => readDeployment(t.client, "serve-tick/hourly"));
    await serving.stop();
    expect((await readDeployment(t.client, "serve-tick/hourly"))?.paused).toBe(true);
    expect((await readDeployment(t.client, "serve-unscheduled/manual"))?.paused).toBe(false);

    serving = startServing(deployments);
    await waitFor("the deployment to be un-paused", async () => ((await readDeployment(t.client, "serve-tick/hourly"))?.paused === false ? true : undefined));
    await serving.stop();
  });

  it("refuses bad deployments before registering anything, naming the field", async () => {
    const etl = flow({ name: "serve-refused" }, function etl(date: string) {
      return date;
    });
    await expect(serve([{ flow: etl, parameters: { dat: "x" } }], { handleSignals: false })).rejects.toThrow(
      /deployment 'serve-refused\/serve-refused': parameters\.dat: matches no parameter of flow 'serve-refused' \(its parameters: date\)/,
    );
    await expect(serve([{ flow: etl, schedules: [{ cron: "0 3 * * *", timezone: "Mars/Olympus" }] }], { handleSignals: false })).rejects.toThrow(
      /schedules\[0\]\.timezone: must be an IANA time zone name/,
    );
    await expect(serve([{ flow: etl, schedules: [{ cron: "0 3 * *" } as never] }], { handleSignals: false, limit: 0 })).rejects.toThrow(
      /serve\.options\.limit: must be at least 1/,
    );
    await expect(serve([{ flow: etl, concurrencyLimit: 1.5 }], { handleSignals: false })).rejects.toThrow(InvalidOptionError);
    await expect(serve([etl, etl], { handleSignals: false })).rejects.toThrow(/deployment 'serve-refused\/serve-refused' is given twice/);
    await expect(serve([{ flow: (() => 1) as never }], { handleSignals: false })).rejects.toThrow(/serve\.deployments\[0\]\.flow: must be a flow/);
    expect(await readDeployment(t.client, "serve-refused/serve-refused")).toBeUndefined();
    // A cron expression is checked by the server, which names the field.
    await expect(serve([{ flow: etl, schedules: [{ cron: "61 * * * *" }] }], { handleSignals: false })).rejects.toThrow(/schedules\.0\.schedule\.cron: invalid cron expression/);
  });
});

describe("serve() with the server's scheduler", () => {
  it("runs the runs the scheduler creates for an interval schedule, not before their time", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-serve-scheduler-"));
    const defaults = loadConfig({});
    const server = await startServer({
      config: {
        port: 0,
        host: "127.0.0.1",
        databaseUrl: `sqlite:${join(dir, "baton.db")}`,
        logLevel: "silent",
        services: { ...defaults.services, scheduler: { enabled: true, loopSeconds: 0.5 } },
        scheduler: { ...defaults.scheduler, minRuns: 3 },
      },
    });
    configure({ apiUrl: server.apiUrl });
    const client = new BatonClient({ apiUrl: server.apiUrl });
    const ticks: string[] = [];
    const tick = flow({ name: "serve-interval" }, function tick() {
      ticks.push(new Date().toISOString());
      return ticks.length;
    });
    const serving = startServing([{ flow: tick, name: "every-2s", schedules: [{ interval: 2 }] }], { prefetchSeconds: 5 });
    try {
      const deployment = await waitFor("the deployment", () => readDeployment(client, "serve-interval/every-2s"));
      const completed = await waitFor(
        "two scheduled runs to complete",
        async () => {
          const runs = await client.filterFlowRuns({
            flow_runs: { deployment_id: { any_: [deployment.id] }, state: { type: { any_: ["COMPLETED"] } } },
            sort: "EXPECTED_START_TIME_ASC",
          });
          return runs.length >= 2 ? runs : undefined;
        },
        20_000,
      );
      for (const run of completed) {
        expect(run.auto_scheduled).toBe(true);
        // Claimed ahead of time (prefetch), but started no earlier than scheduled.
        expect(Date.parse(run.start_time!)).toBeGreaterThanOrEqual(Date.parse(run.expected_start_time!));
      }
      expect(ticks.length).toBeGreaterThanOrEqual(2);
    } finally {
      await serving.stop();
      configure({ apiUrl: t.server.apiUrl });
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);
});

describe("serve() and signals", () => {
  const script = fileURLToPath(new URL("./fixtures/serve-script.ts", import.meta.url));

  function startScript() {
    const child = spawn(process.execPath, ["--import", "tsx", script], {
      env: { ...process.env, BATON_API_URL: t.server.apiUrl, BATON_CONSOLE_LOGS: "true" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
    return { child, exited, stdout: () => stdout, stderr: () => stderr };
  }

  async function startRunningRun(): Promise<{ script: ReturnType<typeof startScript>; run: FlowRun }> {
    const script = startScript();
    const deployment = await waitFor("the deployment", () => readDeployment(t.client, "serve-signal-nap/signals"), 20_000);
    const run = await createRun(t.client, deployment.id, { ms: 1500 });
    await waitFor("the run to be RUNNING", async () => ((await t.client.readFlowRun(run.id)).state_type === "RUNNING" ? true : undefined), 20_000);
    return { script, run };
  }

  it("a first SIGTERM lets the run in progress finish, then serve() returns and the process exits 0", async () => {
    const { script, run } = await startRunningRun();
    script.child.kill("SIGTERM");
    const exit = await script.exited;
    expect(exit, script.stderr()).toEqual({ code: 0, signal: null });
    expect(script.stdout()).toContain("serve returned");
    expect(script.stderr()).toContain("Stopping: SIGTERM received");
    expect((await t.client.readFlowRun(run.id)).state_type).toBe("COMPLETED");
  }, 40_000);

  it("a second SIGTERM marks the run in progress CRASHED and the process dies of the signal", async () => {
    const { script, run } = await startRunningRun();
    script.child.kill("SIGTERM");
    await waitFor("the first signal to be handled", async () => (script.stderr().includes("Stopping: SIGTERM received") ? true : undefined));
    script.child.kill("SIGTERM");
    expect((await script.exited).signal).toBe("SIGTERM");
    expect(script.stdout()).not.toContain("serve returned");
    const crashed = await t.client.readFlowRun(run.id);
    expect(crashed.state_type).toBe("CRASHED");
    expect(crashed.state?.message).toBe("Execution was interrupted by SIGTERM");
  }, 40_000);
});

describe("flowParameterSchema()", () => {
  it("lists parameters by position: literal defaults with their type, no default is required, rest is an optional list", () => {
    const f = flow({ name: "schema" }, function f(a: number, b = "x,y", c = 'q', d = [1], e = { k: 1 }, g = new Date(), h: string | undefined = undefined, ...rest: number[]) {
      return [a, b, c, d, e, g, h, rest];
    });
    expect(flowParameterSchema(f)).toEqual({
      title: "Parameters",
      type: "object",
      properties: {
        a: { title: "a", position: 0 },
        b: { title: "b", position: 1, type: "string", default: "x,y" },
        c: { title: "c", position: 2, type: "string", default: "q" },
        d: { title: "d", position: 3, type: "array", default: [1] },
        e: { title: "e", position: 4 },
        g: { title: "g", position: 5 },
        h: { title: "h", position: 6 },
        rest: { title: "rest", position: 7, type: "array" },
      },
      required: ["a"],
      definitions: {},
    });
    const destructured = flow({ name: "destructured" }, ({ x }: { x: number }, [y]: number[] = [2]) => x + (y ?? 0));
    expect(flowParameterSchema(destructured)).toMatchObject({ properties: { arg0: { position: 0 }, arg1: { position: 1, type: "array", default: [2] } }, required: ["arg0"] });
  });
});
