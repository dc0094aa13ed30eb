import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  flow,
  FlowRunFailedError,
  getRunContext,
  task,
  TaskRunFailedError,
  TimeoutError,
  type FlowHookContext,
  type TaskHookContext,
} from "@baton/sdk";
import { sleep, startTestServer, taskRunsOf, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

describe("flows", () => {
  it("runs a flow with tasks; the server shows the flow run and its task runs COMPLETED and linked", async () => {
    const add = task(function add(a: number, b: number) {
      return a + b;
    });
    const double = task({ name: "double", version: "2", tags: ["math"] }, async (n: number) => n * 2);
    const pipeline = flow({ name: "pipeline", version: "1.0", tags: ["test"] }, async function pipeline(x: number, label: string) {
      const sum = await add(x, 1);
      const doubled = await double(sum);
      return { label, doubled };
    });

    const outcome = await pipeline.run(4, "four");
    expect(outcome.ok).toBe(true);
    expect(outcome.ok && outcome.result).toEqual({ label: "four", doubled: 10 });

    const run = await t.client.readFlowRun(outcome.flowRun.id);
    expect(run.state_type).toBe("COMPLETED");
    expect(run.run_count).toBe(1);
    expect(run.parameters).toEqual({ x: 4, label: "four" });
    expect(run.flow_version).toBe("1.0");
    expect(run.tags).toEqual(["test"]);
    expect(run.state?.data).toEqual({ type: "json", value: { label: "four", doubled: 10 } });
    const flowRecord = await t.client.readFlow(run.flow_id);
    expect(flowRecord.name).toBe("pipeline");

    const history = await t.client.readFlowRunStates(run.id);
    expect(history.map((s) => s.type)).toEqual(["PENDING", "RUNNING", "COMPLETED"]);

    const taskRuns = await taskRunsOf(t.client, run.id);
    expect(taskRuns).toHaveLength(2);
    for (const tr of taskRuns) {
      expect(tr.flow_run_id).toBe(run.id);
      expect(tr.state_type).toBe("COMPLETED");
      expect(tr.run_count).toBe(1);
      expect(tr.dynamic_key).toBe("0");
    }
    const doubleRun = taskRuns.find((tr) => tr.name.startsWith("double"));
    expect(doubleRun?.task_version).toBe("2");
    expect(doubleRun?.tags).toEqual(["math"]);
    expect(doubleRun?.state?.data).toEqual({ type: "json", value: 10 });
  });

  it("calls of the same task get dynamic keys 0, 1, 2 in call order", async () => {
    const inc = task(function inc(n: number) {
      return n + 1;
    });
    const counting = flow(async function counting() {
      return [await inc(1), await inc(2), await inc(3)];
    });
    const outcome = await counting.run();
    expect(outcome.ok && outcome.result).toEqual([2, 3, 4]);
    const taskRuns = await taskRunsOf(t.client, outcome.flowRun.id);
    expect(taskRuns.map((tr) => [tr.name, tr.dynamic_key])).toEqual([
      ["inc-0", "0"],
      ["inc-1", "1"],
      ["inc-2", "2"],
    ]);
    expect(new Set(taskRuns.map((tr) => tr.task_key)).size).toBe(1);
  });

  it("a failing flow ends FAILED and the call rejects with FlowRunFailedError carrying the cause", async () => {
    const broken = flow(async function broken() {
      throw new RangeError("boom");
    });
    let caught: unknown;
    try {
      await broken();
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(FlowRunFailedError);
    const error = caught as FlowRunFailedError;
    expect(error.cause).toBeInstanceOf(RangeError);
    expect(error.state.type).toBe("FAILED");
    const run = await t.client.readFlowRun(error.runId);
    expect(run.state_type).toBe("FAILED");
    expect(run.state?.message).toContain("RangeError: boom");
    expect(run.state?.data).toMatchObject({ type: "error", name: "RangeError", message: "boom" });
  });

  it("a task failure fails the flow, with TaskRunFailedError as the cause", async () => {
    const explode = task(function explode() {
      throw new Error("task boom");
    });
    const host = flow(async function host() {
      await explode();
    });
    const outcome = await host.run();
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.cause).toBeInstanceOf(TaskRunFailedError);
    const taskError = outcome.error.cause as TaskRunFailedError;
    expect((taskError.cause as Error).message).toBe("task boom");
    const taskRun = await t.client.readTaskRun(taskError.runId);
    expect(taskRun.state_type).toBe("FAILED");
    expect(taskRun.flow_run_id).toBe(outcome.flowRun.id);
    expect((await t.client.readFlowRun(outcome.flowRun.id)).state_type).toBe("FAILED");
  });

  it("retries a flow through AwaitingRetry, and does not run again the tasks that completed", async () => {
    let attempts = 0;
    let prepared = 0;
    const prepare = task(function prepare() {
      prepared++;
      return "ready";
    });
    const flaky = flow({ name: "flaky-flow", retries: 2, retryDelaySeconds: 0.3 }, async function flaky() {
      const status = await prepare();
      attempts++;
      if (attempts === 1) throw new Error("first attempt fails");
      return `${status} after ${attempts} attempts`;
    });
    const started = Date.now();
    const outcome = await flaky.run();
    expect(outcome.ok && outcome.result).toBe("ready after 2 attempts");
    expect(Date.now() - started).toBeGreaterThanOrEqual(300);

    const run = await t.client.readFlowRun(outcome.flowRun.id);
    expect(run.state_type).toBe("COMPLETED");
    expect(run.run_count).toBe(2);
    const history = await t.client.readFlowRunStates(run.id);
    expect(history.map((s) => s.name)).toEqual(["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]);

    expect(prepared).toBe(1);
    const taskRuns = await taskRunsOf(t.client, run.id);
    expect(taskRuns).toHaveLength(1);
    expect(taskRuns[0]?.state_type).toBe("COMPLETED");
  });

  it("a flow that keeps failing ends FAILED after its retries", async () => {
    let attempts = 0;
    const hopeless = flow({ name: "hopeless", retries: 1 }, function hopeless() {
      attempts++;
      throw new Error(`attempt ${attempts}`);
    });
    await expect(hopeless()).rejects.toBeInstanceOf(FlowRunFailedError);
    expect(attempts).toBe(2);
  });

  it("a flow called in a flow is a subflow linked by parent_task_run_id", async () => {
    const child = flow(async function child(n: number) {
      return { n, flowRunId: getRunContext().flowRun?.id };
    });
    const parent = flow(async function parent() {
      const first = await child(1);
      const second = await child(2);
      return [first, second];
    });
    const outcome = await parent.run();
    expect(outcome.ok).toBe(true);
    if (!outcome.ok) return;
    const [first, second] = outcome.result;
    expect(first?.n).toBe(1);
    expect(first?.flowRunId).toBeDefined();
    expect(first?.flowRunId).not.toBe(second?.flowRunId);

    const parentTaskRuns = await taskRunsOf(t.client, outcome.flowRun.id);
    expect(parentTaskRuns).toHaveLength(2);
    for (const [i, childRunId] of [first?.flowRunId, second?.flowRunId].entries()) {
      const childRun = await t.client.readFlowRun(childRunId!);
      expect(childRun.state_type).toBe("COMPLETED");
      expect(childRun.parameters).toEqual({ n: i + 1 });
      const parentTaskRun = parentTaskRuns.find((tr) => tr.id === childRun.parent_task_run_id);
      expect(parentTaskRun).toBeDefined();
      expect(parentTaskRun?.flow_run_id).toBe(outcome.flowRun.id);
      expect(parentTaskRun?.dynamic_key).toBe(String(i));
      expect(parentTaskRun?.state_type).toBe("COMPLETED");
      expect(parentTaskRun?.state?.state_details.child_flow_run_id).toBe(childRun.id);
    }
    const children = await t.client.filterFlowRuns({ flow_runs: { parent_task_run_id: { any_: parentTaskRuns.map((tr) => tr.id) } } });
    expect(children).toHaveLength(2);
  });

  it("a failing subflow fails its parent task run and rejects in the parent", async () => {
    const badChild = flow(function badChild() {
      throw new Error("child failed");
    });
    const parent = flow(async function parentOfBad() {
      try {
        await badChild();
        return "no error";
      } catch (error) {
        return error instanceof FlowRunFailedError ? `caught ${error.runId}` : "wrong error";
      }
    });
    const outcome = await parent.run();
    expect(outcome.ok && outcome.result).toMatch(/^caught /);
    const [parentTaskRun] = await taskRunsOf(t.client, outcome.flowRun.id);
    expect(parentTaskRun?.state_type).toBe("FAILED");
  });

  it("times out a flow attempt with a TimedOut FAILED state", async () => {
    const slow = flow({ name: "slow-flow", timeoutSeconds: 0.3 }, async function slow() {
      await sleep(5_000);
      return "too late";
    });
    const started = Date.now();
    const outcome = await slow.run();
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    expect(outcome.error.cause).toBeInstanceOf(TimeoutError);
    const run = await t.client.readFlowRun(outcome.flowRun.id);
    expect(run.state_type).toBe("FAILED");
    expect(run.state_name).toBe("TimedOut");
    expect(run.state?.message).toContain("exceeded timeout of 0.3 second(s)");
  });

  it("a flow attempt that times out aborts the signal of the task it is running", async () => {
    let taskAborted = false;
    const waiting = task(async function waiting() {
      const signal = getRunContext().signal!;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5_000);
        signal.addEventListener("abort", () => {
          taskAborted = true;
          clearTimeout(timer);
          resolve();
        });
      });
    });
    const impatient = flow({ name: "impatient", timeoutSeconds: 0.2 }, async function impatient() {
      await waiting();
    });
    const outcome = await impatient.run();
    expect(outcome.ok).toBe(false);
    expect(outcome.state.name).toBe("TimedOut");
    await sleep(50);
    expect(taskAborted).toBe(true);
  });

  it("a task that asks for its signal only after its flow attempt timed out finds it aborted, with the TimeoutError", async () => {
    let seen: { aborted: boolean; reason: unknown } | undefined;
    const late = task(async function late() {
      await sleep(400);
      const signal = getRunContext().signal!;
      seen = { aborted: signal.aborted, reason: signal.reason };
    });
    const hasty = flow({ name: "hasty", timeoutSeconds: 0.2 }, async function hasty() {
      await late();
    });
    const outcome = await hasty.run();
    expect(outcome.state.name).toBe("TimedOut");
    await sleep(400);
    expect(seen?.aborted).toBe(true);
    expect((seen?.reason as Error).name).toBe("TimeoutError");
  });

  it("runs onCompletion and onFailure hooks with the final state; a throwing hook changes nothing", async () => {
    const seen: string[] = [];
    const record = (kind: string) => (ctx: FlowHookContext | TaskHookContext) => {
      seen.push(`${kind}:${"flowName" in ctx ? ctx.flowName : ctx.taskName}:${ctx.state.type}:${String(ctx.result ?? (ctx.error as Error).message)}`);
    };
    const good = task({ name: "good-task", onCompletion: record("done"), onFailure: record("fail") }, () => "fine");
    const bad = task({ name: "bad-task", onCompletion: record("done"), onFailure: [record("fail"), record("fail2")] }, () => {
      throw new Error("nope");
    });
    const hooked = flow(
      {
        name: "hooked",
        onCompletion: [
          record("done"),
          () => {
            throw new Error("hook bug");
          },
        ],
        onFailure: record("fail"),
      },
      async function hooked() {
        await good();
        await bad().catch(() => undefined);
        return 7;
      },
    );
    const outcome = await hooked.run();
    expect(outcome.ok && outcome.result).toBe(7);
    expect(seen).toEqual(["done:good-task:COMPLETED:fine", "fail:bad-task:FAILED:nope", "fail2:bad-task:FAILED:nope", "done:hooked:COMPLETED:7"]);
    expect((await t.client.readFlowRun(outcome.flowRun.id)).state_type).toBe("COMPLETED");

    const failing = flow({ name: "failing-hooked", onFailure: record("fail"), onCompletion: record("done") }, () => {
      throw new Error("flow nope");
    });
    await expect(failing()).rejects.toBeInstanceOf(FlowRunFailedError);
    expect(seen.at(-1)).toBe("fail:failing-hooked:FAILED:flow nope");
  });

  it("records a result that is not plain JSON as untrackable, and still returns it", async () => {
    const when = new Date("2026-01-01T00:00:00Z");
    const dated = flow(function dated() {
      return { when, tags: new Set(["a"]) };
    });
    const outcome = await dated.run();
    expect(outcome.ok && outcome.result.when).toBe(when);
    const run = await t.client.readFlowRun(outcome.flowRun.id);
    expect(run.state_type).toBe("COMPLETED");
    expect(run.state?.data).toBeNull();
    expect(run.state?.state_details.untrackable_result).toBe(true);
  });
});
