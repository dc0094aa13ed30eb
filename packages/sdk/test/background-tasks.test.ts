import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BackgroundTasksNeedServerError, configure, isResultReference, readStateResult, serveTasks, task, TaskRunFailedError, type TaskRun } from "@baton/sdk";
import { persistedReport } from "./fixtures/persisted-report.js";
import { runFixture, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let home: string;
const previousHome = process.env.BATON_HOME;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), "baton-bg-home-"));
  process.env.BATON_HOME = home;
  t = await startTestServer();
});

afterAll(async () => {
  await t.close();
  if (previousHome === undefined) delete process.env.BATON_HOME;
  else process.env.BATON_HOME = previousHome;
  rmSync(home, { recursive: true, force: true });
});

/** Runs `serveTasks` until the returned stop() is called; resolves once it has stopped. */
function startWorkers(count: number, tasks: Parameters<typeof serveTasks>, limit?: number) {
  const controller = new AbortController();
  const done = Promise.all(
    Array.from({ length: count }, (_, i) => serveTasks(...tasks, { limit, signal: controller.signal, handleSignals: false, clientId: `worker-${i}-${Math.random().toString(36).slice(2, 8)}` })),
  );
  return {
    stop: async () => {
      controller.abort();
      await done;
    },
  };
}

async function statesOf(taskRunId: string) {
  return t.client.readTaskRunStates(taskRunId);
}

describe("background tasks: delay() and serveTasks()", () => {
  it("delay() creates a SCHEDULED deferred run without a flow run, and a task worker runs it", async () => {
    const double = task(async function bgDouble(x: number) {
      return x * 2;
    });
    const future = double.delay(21);
    const created: TaskRun = await future.created();
    expect(created.flow_run_id).toBeNull();
    expect(created.state?.type).toBe("SCHEDULED");
    expect(created.state?.state_details.deferred).toBe(true);
    expect(created.state?.state_details.task_parameters_id).toMatch(/^[0-9a-f-]{36}$/);

    const workers = startWorkers(1, [double]);
    try {
      await expect(future.result()).resolves.toBe(42);
      await future.wait();
      expect(future.state?.type).toBe("COMPLETED");
      const run = await t.client.readTaskRun(future.taskRunId);
      expect(run.state?.data).toEqual({ type: "json", value: 42 });
    } finally {
      await workers.stop();
    }
  });

  it("three task workers and 60 delayed runs: each run executes exactly once", async () => {
    const executions = new Map<number, number>();
    const square = task(async function bgSquare(x: number) {
      executions.set(x, (executions.get(x) ?? 0) + 1);
      await new Promise((resolve) => setTimeout(resolve, 5));
      return x * x;
    });
    const workers = startWorkers(3, [square], 4);
    try {
      const futures = Array.from({ length: 60 }, (_, i) => square.delay(i));
      const results = await Promise.all(futures.map((f) => f.result()));
      expect(results).toEqual(Array.from({ length: 60 }, (_, i) => i * i));
      expect([...executions.values()].every((n) => n === 1) && executions.size === 60).toBe(true);
      for (const future of futures) {
        const states = await statesOf(future.taskRunId);
        // Scheduled, then exactly one claim, one start and one finish.
        expect(states.map((s) => s.type)).toEqual(["SCHEDULED", "PENDING", "RUNNING", "COMPLETED"]);
        const run = await t.client.readTaskRun(future.taskRunId);
        expect(run.run_count).toBe(1);
      }
    } finally {
      await workers.stop();
    }
  });

  it("a failing task with retries=2 is retried through the queue and completes", async () => {
    let calls = 0;
    const flaky = task({ retries: 2, retryDelaySeconds: 0 }, async function bgFlaky(label: string) {
      calls++;
      if (calls < 3) throw new Error(`attempt ${calls} fails`);
      return `${label} on attempt ${calls}`;
    });
    const workers = startWorkers(2, [flaky]);
    try {
      const future = flaky.delay("done");
      await expect(future.result()).resolves.toBe("done on attempt 3");
      const states = await statesOf(future.taskRunId);
      expect(states.map((s) => `${s.type}:${s.name}`)).toEqual([
        "SCHEDULED:Scheduled",
        "PENDING:Pending",
        "RUNNING:Running",
        "SCHEDULED:AwaitingRetry",
        "PENDING:Pending",
        "RUNNING:Running",
        "SCHEDULED:AwaitingRetry",
        "PENDING:Pending",
        "RUNNING:Running",
        "COMPLETED:Completed",
      ]);
      // Every state of the run is still a background run's, with its parameters.
      expect(states.every((s) => s.state_details.deferred === true && s.state_details.task_parameters_id)).toBe(true);
      expect(calls).toBe(3);
    } finally {
      await workers.stop();
    }
  });

  it("a task that keeps failing ends FAILED and result() rejects", async () => {
    const broken = task({ retries: 1 }, async function bgBroken() {
      throw new Error("always");
    });
    const workers = startWorkers(1, [broken]);
    try {
      const future = broken.delay();
      await expect(future.result()).rejects.toBeInstanceOf(TaskRunFailedError);
      expect(future.state?.type).toBe("FAILED");
    } finally {
      await workers.stop();
    }
  });

  it("a run delayed while no worker is connected is delivered when one connects", async () => {
    const greet = task(async function bgGreet(name: string, punctuation = "!") {
      return `hello ${name}${punctuation}`;
    });
    const future = greet.delay("ada");
    await future.created();
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect((await t.client.readTaskRun(future.taskRunId)).state?.type).toBe("SCHEDULED");
    const workers = startWorkers(1, [greet]);
    try {
      await expect(future.result()).resolves.toBe("hello ada!");
    } finally {
      await workers.stop();
    }
  });

  it("applyAsync waits for its waitFor futures before the run is queued", async () => {
    const order: string[] = [];
    const first = task(async function bgFirst() {
      await new Promise((resolve) => setTimeout(resolve, 100));
      order.push("first");
      return 1;
    });
    const second = task(async function bgSecond(n: number) {
      order.push("second");
      return n + 1;
    });
    const workers = startWorkers(1, [first, second], 2);
    try {
      const a = first.delay();
      const b = second.applyAsync([41], { waitFor: [a] });
      await expect(b.result()).resolves.toBe(42);
      expect(order).toEqual(["first", "second"]);
      const created = await b.created();
      expect(created.task_inputs.wait_for).toEqual([{ input_type: "task_run", id: a.taskRunId }]);
    } finally {
      await workers.stop();
    }
  });

  it("refuses arguments that are not JSON, naming the parameter", async () => {
    const takesBig = task(async function bgBig(n: bigint) {
      return String(n);
    });
    const future = takesBig.delay(1n);
    await expect(future.created()).rejects.toThrow(/parameter 'n' cannot be sent to a task worker as JSON/);
  });

  it("needs a server: without one, delay() and serveTasks() say so", async () => {
    const noop = task(async function bgNoop() {});
    configure({ apiUrl: null });
    try {
      expect(() => noop.delay()).toThrow(BackgroundTasksNeedServerError);
      await expect(serveTasks(noop)).rejects.toBeInstanceOf(BackgroundTasksNeedServerError);
    } finally {
      configure({ apiUrl: t.server.apiUrl });
    }
  });

  it("task_workers/filter lists a connected worker with its task keys", async () => {
    const listed = task(async function bgListed() {});
    const controller = new AbortController();
    const served = serveTasks(listed, { signal: controller.signal, handleSignals: false, clientId: "listed-worker" });
    try {
      let workers: Array<{ identifier: string; task_keys: string[]; timestamp: string }> = [];
      for (let i = 0; i < 50 && !workers.some((w) => w.identifier === "listed-worker"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        workers = await t.client.request("POST", "/task_workers/filter", { task_worker_filter: { task_keys: [listed.taskKey] } });
      }
      const mine = workers.find((w) => w.identifier === "listed-worker");
      expect(mine?.task_keys).toEqual([listed.taskKey]);
      expect(Date.parse(mine!.timestamp)).not.toBeNaN();
      const others = await t.client.request<unknown[]>("POST", "/task_workers/filter", { task_worker_filter: { task_keys: ["no-such-task"] } });
      expect(others).toEqual([]);
    } finally {
      controller.abort();
      await served;
    }
    const after = await t.client.request<Array<{ identifier: string }>>("POST", "/task_workers/filter", {});
    expect(after.some((w) => w.identifier === "listed-worker")).toBe(false);
  });
});

describe("persisted results of background tasks", () => {
  it("a task worker in another process writes the record; the caller's future reads it back from the shared storage", async () => {
    const storage = join(home, "results");
    configure({ localStoragePath: storage });
    const future = persistedReport.delay("north");
    const created = await future.created();
    expect(created.state?.type).toBe("SCHEDULED");

    const worker = await runFixture("serve-persisted", [], home, storage, { BATON_API_URL: t.server.apiUrl });
    expect(worker.code, worker.stderr).toBe(0);
    const workerPid = Number(/SERVED (\d+)/.exec(worker.stdout)?.[1]);
    expect(workerPid).toBeGreaterThan(0);
    expect(workerPid).not.toBe(process.pid);

    const value = (await future.result()) as Map<string, unknown>;
    // A Map with a Date: only the v8 record carries that, so this came from storage.
    expect(value).toBeInstanceOf(Map);
    expect(Object.fromEntries(value)).toEqual({ region: "north", workerPid, at: new Date(0) });

    const run = await t.client.readTaskRun(future.taskRunId);
    expect(run.state?.type).toBe("COMPLETED");
    expect(isResultReference(run.state?.data)).toBe(true);
    const key = `bg/north-${future.taskRunId}`;
    expect(run.state?.data).toMatchObject({ storage_key: key, serializer: { type: "v8" } });
    expect(existsSync(join(storage, key))).toBe(true);

    // Without that storage the reference cannot be followed: the value was never inline.
    configure({ localStoragePath: join(home, "elsewhere") });
    try {
      const again = (await t.client.readTaskRun(future.taskRunId)).state!;
      await expect(readStateResult(again, t.client)).rejects.toThrow(`no result record '${key}'`);
    } finally {
      configure({ localStoragePath: storage });
    }
  }, 90_000);
});
