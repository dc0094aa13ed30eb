import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CachePolicies, CachePolicy, configure, flow, getRunContext, task, type CachePolicyContext, type ResultRecordMetadata } from "@baton/sdk";
import { runFixture, sleep, startTestServer, type FixtureOutcome, type TestServer } from "./helpers.js";

let t: TestServer;
let storageDir: string;
beforeAll(async () => {
  t = await startTestServer();
  storageDir = mkdtempSync(join(tmpdir(), "baton-cache-"));
  configure({ localStoragePath: storageDir });
});
afterAll(async () => {
  await t.close();
  rmSync(storageDir, { recursive: true, force: true });
});

function counted<A extends unknown[], R>(fn: (...args: A) => R) {
  const calls = { n: 0 };
  const wrapped = (...args: A): R => {
    calls.n++;
    return fn(...args);
  };
  return { calls, wrapped };
}

describe("cache policies", () => {
  it("INPUTS: equal arguments in another flow run hit the cache (Cached, run_count 0); other arguments run", async () => {
    const { calls, wrapped } = counted((n: number) => n * 10);
    const times = task({ name: `times-${Date.now()}`, cachePolicy: CachePolicies.INPUTS }, function times(n: number) {
      return wrapped(n);
    });
    const ids: string[] = [];
    const host = flow(async function inputsHost(n: number) {
      const f = times.submit(n);
      ids.push(f.taskRunId);
      return f.result();
    });
    expect(await host(1)).toBe(10);
    expect(await host(1)).toBe(10);
    expect(await host(2)).toBe(20);
    expect(calls.n).toBe(2);
    const second = await t.client.readTaskRun(ids[1]!);
    expect(second.state_name).toBe("Cached");
    expect(second.run_count).toBe(0);
    expect(second.state?.state_details.cache_key).toBeTypeOf("string");
    const first = await t.client.readTaskRun(ids[0]!);
    expect((second.state?.data as ResultRecordMetadata).storage_key).toBe((first.state?.data as ResultRecordMetadata).storage_key);
  });

  it("DEFAULT (INPUTS + TASK_SOURCE + RUN_ID, under persistResult): cached within one flow run, not across runs", async () => {
    const { calls, wrapped } = counted((s: string) => s.toUpperCase());
    const upper = task({ name: "upper-default", persistResult: true }, function upper(s: string) {
      return wrapped(s);
    });
    const host = flow(async function defaultHost() {
      return [await upper("a"), await upper("a"), await upper("b")];
    });
    expect(await host()).toEqual(["A", "A", "B"]);
    expect(calls.n).toBe(2);
    await host();
    expect(calls.n).toBe(4);
  });

  it("TASK_SOURCE: the same name and inputs with other code is another key", async () => {
    let v1 = 0;
    let v2 = 0;
    const policy = CachePolicies.INPUTS.add(CachePolicies.TASK_SOURCE);
    const one = task({ name: "same-name", cachePolicy: policy }, function same(n: number) {
      v1++;
      return n + 1;
    });
    const two = task({ name: "same-name", cachePolicy: policy }, function same(n: number) {
      v2++;
      return n + 2;
    });
    const host = flow(async function sourceHost() {
      return [await one(1), await two(1), await one(1), await two(1)];
    });
    expect(await host()).toEqual([2, 3, 2, 3]);
    expect([v1, v2]).toEqual([1, 1]);
  });

  it("FLOW_PARAMETERS: keyed on the flow run's parameters, whatever the task's own inputs", async () => {
    let calls = 0;
    const stamp = task({ name: "stamp-fp", cachePolicy: CachePolicies.FLOW_PARAMETERS }, function stamp(x: number) {
      calls++;
      return x;
    });
    const host = flow(async function fpHost(region: string, x: number) {
      return stamp(x);
    });
    expect(await host("eu", 1)).toBe(1);
    expect(await host("eu", 1)).toBe(1);
    expect(await host("us", 1)).toBe(1);
    expect(calls).toBe(2);
  });

  it("a list of policies is the same as .add(); NONE adds nothing; INPUTS.exclude leaves a parameter out", () => {
    const context: CachePolicyContext = {
      taskName: "t",
      taskKey: "t-1",
      args: [1, "x"],
      parameters: { a: 1, client: "x" },
      flowRunId: "f",
      taskSource: "function t() {}",
      taskRunId: "r",
      flowParameters: {},
    };
    const added = CachePolicies.INPUTS.add(CachePolicies.TASK_SOURCE).add(CachePolicies.RUN_ID);
    expect(added.computeKey(context)).toBe(CachePolicies.DEFAULT.computeKey(context));
    expect(CachePolicies.NONE.add(CachePolicies.INPUTS)).toBe(CachePolicies.INPUTS);
    expect(CachePolicies.NONE.computeKey(context)).toBeUndefined();
    const without = CachePolicies.INPUTS.exclude("client");
    expect(without.computeKey(context)).toBe(without.computeKey({ ...context, parameters: { a: 1, client: "other" } }));
    expect(without.computeKey(context)).not.toBe(CachePolicies.INPUTS.computeKey(context));
    expect(added).toBeInstanceOf(CachePolicy);
  });

  it("a custom CachePolicy subclass, and cacheKeyFn, decide the key", async () => {
    class ByFirstLetter extends CachePolicy {
      readonly name = "first-letter";
      computeKey(ctx: CachePolicyContext) {
        return `letter-${String(ctx.parameters.word)[0]}`;
      }
    }
    let calls = 0;
    const word = task({ name: "first-letter", cachePolicy: new ByFirstLetter() }, function word(word: string) {
      calls++;
      return word;
    });
    const host = flow(async function customHost() {
      return [await word("apple"), await word("avocado"), await word("banana")];
    });
    // "avocado" shares "apple"'s key, so it gets apple's cached result.
    expect(await host()).toEqual(["apple", "apple", "banana"]);
    expect(calls).toBe(2);
  });

  it("refreshCache runs again and replaces the cached result; cacheExpiration makes entries expire", async () => {
    let n = 0;
    const opts = { name: "refreshing", cacheKeyFn: () => `refresh-${process.pid}`, cacheExpiration: 0.5 };
    const counter = task(opts, function counter() {
      return ++n;
    });
    const refreshing = counter.withOptions({ refreshCache: true });
    const host = flow(async function refreshHost() {
      const a = await counter();
      const b = await counter(); // cached
      const c = await refreshing(); // runs, overwrites
      const d = await counter(); // cached: the refreshed value
      await sleep(700);
      const e = await counter(); // expired: runs
      return [a, b, c, d, e];
    });
    expect(await host()).toEqual([1, 1, 2, 2, 3]);
  });

  it("persistResult: false turns caching off (the policy is ignored, with a warning)", async () => {
    let calls = 0;
    const uncached = task({ name: "uncached", persistResult: false, cachePolicy: CachePolicies.INPUTS }, function uncached() {
      calls++;
      return calls;
    });
    const host = flow(async function uncachedHost() {
      return [await uncached(), await uncached()];
    });
    expect(await host()).toEqual([1, 2]);
  });

  it("a cache policy whose key function throws leaves the call uncached", async () => {
    let calls = 0;
    const flaky = task({ name: "key-throws", cacheKeyFn: () => { throw new Error("no key today"); } }, function flaky() {
      calls++;
      return getRunContext().taskRun?.id;
    });
    const host = flow(async function throwsHost() {
      return [await flaky(), await flaky()];
    });
    const [a, b] = await host();
    expect(a).not.toBe(b);
    expect(calls).toBe(2);
  });
});

describe("across processes", () => {
  const shared = mkdtempSync(join(tmpdir(), "baton-cache-shared-"));
  afterAll(() => rmSync(shared, { recursive: true, force: true }));

  function runCachedTask(home: string): Promise<FixtureOutcome> {
    return runFixture("cached-task", ["12"], home, join(shared, "storage"));
  }

  it("a second node process, with its own server and database, gets a cache hit from the shared storage and does not run the body", async () => {
    const first = await runCachedTask(join(shared, "home-a"));
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toContain("BODY RAN");
    const firstOut = JSON.parse(first.stdout.split("RESULT ")[1]!) as { value: { at: number }; stateName: string };
    expect(firstOut.stateName).toBe("Completed");

    const second = await runCachedTask(join(shared, "home-b"));
    expect(second.code, second.stderr).toBe(0);
    expect(second.stdout).not.toContain("BODY RAN");
    const secondOut = JSON.parse(second.stdout.split("RESULT ")[1]!) as { value: { n: number; square: number; at: number }; stateName: string };
    expect(secondOut.stateName).toBe("Cached");
    // The value the first process computed (its pid), read from the record.
    expect(secondOut.value).toEqual({ n: 12, square: 144, at: firstOut.value.at });
    // Two databases: the hit came from storage, not from a server's cache.
    expect(existsSync(join(shared, "home-a", "baton.db"))).toBe(true);
    expect(existsSync(join(shared, "home-b", "baton.db"))).toBe(true);
  }, 90_000);
});
