import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  flow,
  getRunContext,
  task,
  TaskRunFailedError,
  TaskRunFuture,
  taskInputHash,
  TimeoutError,
  unmapped,
  UpstreamTaskError,
} from "@baton/sdk";
import { sleep, startTestServer, taskRunsOf, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

describe("task retries", () => {
  it("a task that fails once completes on retry: run_count 2, AwaitingRetry in its history", async () => {
    const flaky = task({ name: "flaky", retries: 2, retryDelaySeconds: 0.4 }, function flaky(n: number) {
      if (getRunContext().taskRun?.run_count === 1) throw new Error("first attempt fails");
      return n * 3;
    });
    let future: TaskRunFuture<number> | undefined;
    const started = Date.now();
    const retrying = flow(async function retrying() {
      future = flaky.submit(5);
      return future.result();
    });
    expect(await retrying()).toBe(15);
    expect(Date.now() - started).toBeGreaterThanOrEqual(400);

    const taskRun = await t.client.readTaskRun(future!.taskRunId);
    expect(taskRun.state_type).toBe("COMPLETED");
    expect(taskRun.run_count).toBe(2);
    expect(taskRun.empirical_policy).toMatchObject({ retries: 2, retry_delay: 0.4 });
    const history = await t.client.readTaskRunStates(taskRun.id);
    expect(history.map((s) => `${s.type}/${s.name}`)).toEqual([
      "PENDING/Pending",
      "RUNNING/Running",
      "SCHEDULED/AwaitingRetry",
      "RUNNING/Retrying",
      "COMPLETED/Completed",
    ]);
    const awaiting = history[2]!;
    expect(awaiting.state_details.scheduled_time).toBeDefined();
    expect(future!.state?.type).toBe("COMPLETED");
  });

  it("uses one delay per retry from a list, and fails after the last retry", async () => {
    let attempts = 0;
    const doomed = task({ name: "doomed", retries: 2, retryDelaySeconds: [0.1, 0.2] }, () => {
      attempts++;
      throw new Error(`attempt ${attempts}`);
    });
    const host = flow(async function doomedHost() {
      const future = doomed.submit();
      await future.wait();
      return { id: future.taskRunId, state: future.state?.type };
    });
    const { id, state } = await host();
    expect(state).toBe("FAILED");
    expect(attempts).toBe(3);
    const history = await t.client.readTaskRunStates(id);
    expect(history.filter((s) => s.name === "AwaitingRetry")).toHaveLength(2);
    expect(history.at(-1)?.type).toBe("FAILED");
    expect((await t.client.readTaskRun(id)).run_count).toBe(3);
  });
});

describe("submit and map", () => {
  it("submit returns a future; futures passed to tasks are resolved and recorded as task_inputs", async () => {
    const double = task(function double(n: number) {
      return n * 2;
    });
    const add = task(function add(a: number, b: number) {
      return a + b;
    });
    const host = flow(async function futures() {
      const a = double.submit(1);
      const b = double.submit(a);
      const c = add.submit(a, b);
      return { a: a.taskRunId, b: b.taskRunId, c: c.taskRunId, value: await c.result() };
    });
    const out = await host();
    expect(out.value).toBe(6);
    const bRun = await t.client.readTaskRun(out.b);
    expect(bRun.task_inputs).toEqual({ n: [{ input_type: "task_run", id: out.a }] });
    const cRun = await t.client.readTaskRun(out.c);
    expect(cRun.task_inputs).toEqual({ a: [{ input_type: "task_run", id: out.a }], b: [{ input_type: "task_run", id: out.b }] });
  });

  it("map fans out over arrays, broadcasts other arguments and unmapped() arrays", async () => {
    const combine = task(function combine(n: number, offset: number, extra: number[]) {
      return n + offset + extra.length;
    });
    const host = flow(async function mapping() {
      const futures = combine.map([1, 2, 3], 10, unmapped([0, 0]));
      expect(futures).toHaveLength(3);
      return Promise.all(futures.map((f) => f.result()));
    });
    const outcome = await host.run();
    expect(outcome.ok && outcome.result).toEqual([13, 14, 15]);
    const taskRuns = await taskRunsOf(t.client, outcome.flowRun.id);
    expect(taskRuns.map((tr) => tr.dynamic_key)).toEqual(["0", "1", "2"]);
    expect(taskRuns.every((tr) => tr.state_type === "COMPLETED")).toBe(true);
  });

  it("map refuses arrays of different lengths, and calls without an array", async () => {
    const pair = task(function pair(a: number, b: number) {
      return a * b;
    });
    const host = flow(async function badMap() {
      expect(() => pair.map([1, 2], [1, 2, 3])).toThrow(/same length/);
      expect(() => pair.map(1, 2)).toThrow(/at least one array/);
      return "checked";
    });
    expect(await host()).toBe("checked");
  });

  it("the flow run waits for submitted runs it did not await", async () => {
    const finished: number[] = [];
    const slowly = task(async function slowly(n: number) {
      await sleep(200);
      finished.push(n);
      return n;
    });
    const host = flow(function fireAndForget() {
      slowly.submit(1);
      slowly.submit(2);
      return "returned early";
    });
    const outcome = await host.run();
    expect(outcome.ok && outcome.result).toBe("returned early");
    expect(finished.sort()).toEqual([1, 2]);
    const taskRuns = await taskRunsOf(t.client, outcome.flowRun.id);
    expect(taskRuns.map((tr) => tr.state_type)).toEqual(["COMPLETED", "COMPLETED"]);
  });

  it("a task whose upstream future failed does not start and rejects with UpstreamTaskError", async () => {
    let ran = false;
    const fail = task(function fail(): number {
      throw new Error("upstream broke");
    });
    const after = task(function after(n: number) {
      ran = true;
      return n;
    });
    const host = flow(async function upstream() {
      const f = fail.submit();
      const downstream = after.submit(f);
      const error = await downstream.result().catch((e: unknown) => e);
      return { error, downstream: downstream.taskRunId };
    });
    const { error, downstream } = await host();
    expect(error).toBeInstanceOf(UpstreamTaskError);
    expect(ran).toBe(false);
    expect((await t.client.readTaskRun(downstream)).state_type).toBe("PENDING");
  });

  it("a task called outside any flow is still a tracked task run", async () => {
    const lone = task(function lone(x: string) {
      return x.toUpperCase();
    });
    const future = lone.submit("solo");
    expect(await future.result()).toBe("SOLO");
    const run = await t.client.readTaskRun(future.taskRunId);
    expect(run.flow_run_id).toBeNull();
    expect(run.state_type).toBe("COMPLETED");
  });
});

describe("caching", () => {
  it("a second call with the same key returns the cached value without running the function", async () => {
    const salt = randomUUID();
    let calls = 0;
    const expensive = task({ name: "expensive", cacheKeyFn: ({ args: [n] }) => `${salt}-${n}` }, function expensive(n: number) {
      calls++;
      return { n, squared: n * n };
    });
    const host = flow(async function caching() {
      const first = expensive.submit(4);
      const firstValue = await first.result();
      const second = expensive.submit(4);
      const secondValue = await second.result();
      const other = await expensive(5);
      return { firstValue, secondValue, other, firstId: first.taskRunId, secondId: second.taskRunId };
    });
    const out = await host();
    expect(out.firstValue).toEqual({ n: 4, squared: 16 });
    expect(out.secondValue).toEqual({ n: 4, squared: 16 });
    expect(out.other).toEqual({ n: 5, squared: 25 });
    expect(calls).toBe(2);

    const first = await t.client.readTaskRun(out.firstId);
    expect(first.state_name).toBe("Completed");
    const second = await t.client.readTaskRun(out.secondId);
    expect(second.state_type).toBe("COMPLETED");
    expect(second.state_name).toBe("Cached");
    // A cacheKeyFn persists the result (Prefect 3): the state carries the record's reference, keyed by the cache key.
    expect(second.state?.data).toMatchObject({ storage_key: `${salt}-4`, serializer: { type: "json" } });
    expect(second.run_count).toBe(0);
  });

  it("a cached value expires after cacheExpirationSeconds; taskInputHash keys on the inputs", async () => {
    let calls = 0;
    const salted = randomUUID();
    const hashed = task({ name: `hashed-${salted}`, cacheKeyFn: taskInputHash, cacheExpirationSeconds: 0.5 }, function hashed(o: { a: number; b: number }) {
      calls++;
      return o.a + o.b;
    });
    const host = flow(async function expiring() {
      await hashed({ a: 1, b: 2 });
      await hashed({ b: 2, a: 1 }); // same inputs, keys in another order: cached
      await hashed({ a: 2, b: 2 }); // other inputs: runs
      await sleep(700);
      await hashed({ a: 1, b: 2 }); // expired: runs again
    });
    await host();
    expect(calls).toBe(3);
  });
});

describe("timeouts", () => {
  it("a task attempt over timeoutSeconds fails as TimedOut, with TimeoutError as the cause", async () => {
    let aborted = false;
    const slow = task({ name: "slow-task", timeoutSeconds: 0.2 }, async function slow() {
      const signal = getRunContext().signal!;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        signal.addEventListener("abort", () => {
          aborted = true;
          clearTimeout(timer);
          resolve();
        });
      });
      return "too late";
    });
    const host = flow(async function timing() {
      const future = slow.submit();
      const error = await future.result().catch((e: unknown) => e);
      return { error, id: future.taskRunId };
    });
    const started = Date.now();
    const { error, id } = await host();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(error).toBeInstanceOf(TaskRunFailedError);
    expect((error as TaskRunFailedError).cause).toBeInstanceOf(TimeoutError);
    expect(aborted).toBe(true);
    const run = await t.client.readTaskRun(id);
    expect(run.state_type).toBe("FAILED");
    expect(run.state_name).toBe("TimedOut");
  });

  it("a timed-out attempt is retried when retries remain", async () => {
    const sometimesSlow = task({ name: "sometimes-slow", timeoutSeconds: 0.2, retries: 1 }, async function sometimesSlow() {
      if (getRunContext().taskRun?.run_count === 1) await sleep(1_000);
      return "fast enough";
    });
    const host = flow(async function timingRetry() {
      const future = sometimesSlow.submit();
      return { value: await future.result(), id: future.taskRunId };
    });
    const { value, id } = await host();
    expect(value).toBe("fast enough");
    const history = await t.client.readTaskRunStates(id);
    expect(history.map((s) => s.name)).toEqual(["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]);
    expect(history[2]?.message).toContain("exceeded timeout");
  });
});
