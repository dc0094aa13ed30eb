import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flow, getRunContext } from "@baton/sdk";
import { startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

/** A run created elsewhere (as a deployment's run is), waiting to be executed. */
async function pendingRun(flowName: string, parameters: Record<string, unknown>) {
  const created = await t.client.createFlow({ name: flowName });
  return t.client.createFlowRun({ flow_id: created.id, parameters, state: { type: "PENDING", name: "Pending" } });
}

describe("flow.runExisting(flowRunId)", () => {
  it("runs the flow for that run, its parameters bound by name (defaults, rest, extra positions), creating no other run", async () => {
    const seen: unknown[] = [];
    const shape = flow({ name: "shape", retries: 2, retryDelaySeconds: 1, version: "7" }, function shape(width: number, height = 10, ...more: number[]) {
      seen.push(getRunContext().flowRun?.id);
      return [width, height, ...more];
    });
    const run = await pendingRun("shape", { width: 3, more: [5, 6] });
    const outcome = await shape.runExisting(run.id);
    expect(outcome.ok).toBe(true);
    expect(outcome.state.type).toBe("COMPLETED");
    expect(outcome.ok && outcome.result).toEqual([3, 10, 5, 6]);
    expect(seen).toEqual([run.id]);

    const after = await t.client.readFlowRun(run.id);
    expect(after.state_type).toBe("COMPLETED");
    expect(after.run_count).toBe(1);
    // The flow's retries and version fill in what the run did not set.
    expect(after.empirical_policy).toMatchObject({ retries: 2, retry_delay: 1 });
    expect(after.flow_version).toBe("7");
    expect(await t.client.request<number>("POST", "/flow_runs/count", { flows: { name: { any_: ["shape"] } } })).toBe(1);

    const subtract = flow({ name: "subtract" }, (a: number, b: number) => a - b);
    const subtraction = await pendingRun("subtract", { b: 4, a: 10 });
    const difference = await subtract.runExisting(subtraction.id);
    expect(difference.ok && difference.result).toBe(6);

    // Extra arguments of a call are recorded as arg<i>; they go back to their position.
    const collect = flow({ name: "collect" }, function collect(first: number) {
      // eslint-disable-next-line prefer-rest-params -- a rest parameter would be named; unnamed extras are the point
      return [first, ...Array.from(arguments).slice(1)];
    });
    const extra = await pendingRun("collect", { first: 1, arg1: 2 });
    const collected = await collect.runExisting(extra.id);
    expect(collected.ok && collected.result).toEqual([1, 2]);
  });

  it("a parameter the function does not take fails the run without calling it", async () => {
    let called = false;
    const strict = flow({ name: "strict" }, function strict(name: string) {
      called = true;
      return name;
    });
    const run = await pendingRun("strict", { name: "x", colour: "blue" });
    const outcome = await strict.runExisting(run.id);
    expect(outcome.ok).toBe(false);
    expect(called).toBe(false);
    expect(outcome.state.type).toBe("FAILED");
    expect(outcome.state.message).toBe(
      "Validation of flow parameters failed with error: TypeError: parameter 'colour' matches no parameter of the flow function (its parameters: name)",
    );
  });

  it("a run the server will not start is not run", async () => {
    let called = false;
    const once = flow({ name: "once" }, () => {
      called = true;
    });
    const run = await pendingRun("once", {});
    await t.client.setFlowRunState(run.id, { type: "COMPLETED", name: "Completed", data: { type: "json", value: 1 } }, true);
    const outcome = await once.runExisting(run.id);
    expect(called).toBe(false);
    expect(outcome.state.type).toBe("COMPLETED");
  });
  it("takes the run as the caller just read it, instead of reading it again; a run of another id is refused", async () => {
    const echo = flow({ name: "echo" }, (word: string) => word);
    const run = await pendingRun("echo", { word: "server" });
    // The copy passed in is what the engine starts from: its parameters are the arguments.
    const outcome = await echo.runExisting(run.id, { flowRun: { ...run, parameters: { word: "caller" } } });
    expect(outcome.ok && outcome.result).toBe("caller");
    expect((await t.client.readFlowRun(run.id)).state_type).toBe("COMPLETED");

    const other = await pendingRun("echo", { word: "other" });
    await expect(echo.runExisting(other.id, { flowRun: run })).rejects.toThrow(`runExisting.flowRun: is run ${run.id}, not ${other.id}`);
    expect((await t.client.readFlowRun(other.id)).state_type).toBe("PENDING");
  });
});
