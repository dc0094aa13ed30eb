import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CachePolicies, configure, flow, getRunContext, InvalidOptionError, task, TaskRunFailedError, type ResultRecordMetadata } from "@baton/sdk";
import { startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let storageDir: string;
beforeAll(async () => {
  t = await startTestServer();
  storageDir = mkdtempSync(join(tmpdir(), "baton-storage-key-"));
  configure({ localStoragePath: storageDir });
});
afterAll(async () => {
  await t.close();
  rmSync(storageDir, { recursive: true, force: true });
});

function recordAt(key: string): { metadata: ResultRecordMetadata; result: string } {
  return JSON.parse(readFileSync(join(storageDir, key), "utf8")) as { metadata: ResultRecordMetadata; result: string };
}

function refused(template: unknown, extra: object = {}): InvalidOptionError {
  try {
    task({ resultStorageKey: template as string, ...extra }, function keyed(x: number) {
      return x;
    });
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidOptionError);
    expect((error as InvalidOptionError).field).toBe("task.resultStorageKey");
    return error as InvalidOptionError;
  }
  throw new Error(`task() accepted resultStorageKey ${JSON.stringify(template)}`);
}

describe("resultStorageKey: bad templates fail at task() time, naming the option", () => {
  it.each([
    ["{foo}-x", "unknown field 'foo' (known: parameters, flow_run, task_run, deployment)"],
    ["{flow_run.nope}", "unknown field 'flow_run.nope' (flow_run has id, name, flow_name"],
    ["{task_run}", "{task_run}: name an attribute of task_run (id, name, task_name"],
    ["{parameters.x}", "parameters are read by key: {parameters[x]}"],
    ["{}", "an empty field '{}'"],
    ["{0}", "positional or malformed field"],
    ["a{parameters[x]", "a '{' is never closed"],
    ["a}b", "a single '}'"],
    ["{parameters[x]!r}", "conversions ('!r', '!s') are not supported"],
    ["{task_run.id:%Y}", "a format spec applies to dates only, and task_run.id is not one"],
    ["{flow_run.scheduled_start_time:%Q}", "unsupported strftime directive '%Q'"],
    ["{flow_run.scheduled_start_time:>10}", "a format spec is a strftime pattern for dates"],
    ["   ", "must be a non-empty string template"],
  ])("%j", (template, message) => {
    expect(refused(template).message).toContain(message);
  });

  it("a template that is not a string, or with persistResult: false, is refused", () => {
    expect(refused(42).message).toBe("task.resultStorageKey: must be a string template");
    expect(refused("{parameters[x]}", { persistResult: false }).message).toContain("cannot go with persistResult: false");
  });

  it("withOptions checks the template too", () => {
    const plain = task(function plain() {
      return 1;
    });
    expect(() => plain.withOptions({ resultStorageKey: "{flow_run.bad}" })).toThrow("task.resultStorageKey: unknown field 'flow_run.bad'");
  });
});

describe("resultStorageKey: where records go", () => {
  it("the record is written at the rendered key; a later call rendering the same key is a cache hit, another key runs", async () => {
    let ran = 0;
    const weather = task({ name: "weather-keyed", resultStorageKey: "{parameters[city]}-{flow_run.id}" }, function weather(city: string) {
      ran++;
      return { city, reading: ran };
    });
    const host = flow(async function weatherHost() {
      const first = weather.submit("oslo");
      const a = await first.result();
      const again = weather.submit("oslo");
      const b = await again.result();
      const c = await weather("rome");
      return { a, b, c, flowRunId: getRunContext().flowRun!.id, firstState: first.state, againState: again.state };
    });
    const out = await host();
    expect(out.a).toEqual({ city: "oslo", reading: 1 });
    expect(out.b).toEqual(out.a);
    expect(out.c).toEqual({ city: "rome", reading: 2 });
    expect(ran).toBe(2);
    expect(out.againState?.name).toBe("Cached");

    const key = `oslo-${out.flowRunId}`;
    const record = recordAt(key);
    expect(record.metadata.storage_key).toBe(key);
    expect(JSON.parse(record.result)).toEqual({ city: "oslo", reading: 1 });
    expect((out.firstState?.data as ResultRecordMetadata).storage_key).toBe(key);
    expect(out.firstState?.state_details.cache_key).toBe(key);
    expect(existsSync(join(storageDir, `rome-${out.flowRunId}`))).toBe(true);

    // Another flow run renders another key, so it runs again.
    await host();
    expect(ran).toBe(4);
  });

  it("nested fields, flow_run / task_run attributes and strftime on the scheduled start render into folders", async () => {
    const report = task(
      { name: "keyed-report", resultStorageKey: "reports/{flow_run.scheduled_start_time:%Y-%m-%d}/{flow_run.flow_name}/{task_run.task_name}-{parameters[cfg][region]}-{parameters[ids][1]}-{{x}}" },
      function report(cfg: { region: string }, ids: number[]) {
        return `${cfg.region}:${ids.join(",")}`;
      },
    );
    const host = flow({ name: "keyed-flow" }, async function keyedHost() {
      const future = report.submit({ region: "eu" }, [7, 8]);
      await future.wait();
      return { state: future.state, flowRunId: getRunContext().flowRun!.id };
    });
    const { state, flowRunId } = await host();
    const flowRun = await t.client.readFlowRun(flowRunId);
    const day = (flowRun.expected_start_time ?? "").slice(0, 10);
    expect(day).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    const key = `reports/${day}/keyed-flow/keyed-report-eu-8-{x}`;
    expect((state?.data as ResultRecordMetadata).storage_key).toBe(key);
    expect(JSON.parse(recordAt(key).result)).toBe("eu:7,8");
  });

  it("outside a flow run, flow_run fields render as None (as Prefect's runtime gives them)", async () => {
    const loose = task({ name: "keyed-loose", resultStorageKey: "loose/{flow_run.id}-{parameters[n]}-{task_run.run_count}" }, function loose(n: number) {
      return n * 2;
    });
    expect(await loose(21)).toBe(42);
    expect(JSON.parse(recordAt("loose/None-21-0").result)).toBe(42);
  });

  it("a field the call cannot render fails the run at once (not retried), naming the option", async () => {
    let ran = 0;
    const missing = task({ name: "keyed-missing", retries: 2, resultStorageKey: "{parameters[nope]}" }, function missing(x: number) {
      ran++;
      return x;
    });
    const outcome = await flow(async function missingHost() {
      return missing(1);
    }).run();
    expect(outcome.ok).toBe(false);
    if (outcome.ok) return;
    const taskError = outcome.error.cause as TaskRunFailedError;
    expect(taskError).toBeInstanceOf(TaskRunFailedError);
    expect(taskError.cause).toBeInstanceOf(InvalidOptionError);
    expect((taskError.cause as Error).message).toBe(
      `task.resultStorageKey: {parameters[nope]}: parameters has no key 'nope' (it has x) (template "{parameters[nope]}")`,
    );
    const run = await t.client.readTaskRun(taskError.runId);
    expect(run.state_type).toBe("FAILED");
    expect(run.run_count).toBe(0);
    expect(ran).toBe(0);

    const indexed = task({ name: "keyed-index", resultStorageKey: "{parameters[xs][3]}" }, function indexed(xs: number[]) {
      return xs;
    });
    await expect(indexed([1])).rejects.toThrow(TaskRunFailedError);
    const ok = await flow(async function indexHost() {
      return indexed([1, 2, 3, 4]);
    })();
    expect(ok).toEqual([1, 2, 3, 4]);
    expect(existsSync(join(storageDir, "4"))).toBe(true);
  });

  it("refreshCache runs again and replaces the record; cachePolicy NONE writes at the key but never reads it back", async () => {
    let n = 0;
    const counter = task({ name: "keyed-counter", resultStorageKey: `counter-${process.pid}` }, function counter() {
      return ++n;
    });
    const refreshing = counter.withOptions({ refreshCache: true });
    const host = flow(async function counterHost() {
      return [await counter(), await counter(), await refreshing(), await counter()];
    });
    expect(await host()).toEqual([1, 1, 2, 2]);
    expect(JSON.parse(recordAt(`counter-${process.pid}`).result)).toBe(2);

    let m = 0;
    const writeOnly = task({ name: "keyed-write-only", cachePolicy: CachePolicies.NONE, resultStorageKey: `write-only-${process.pid}` }, function writeOnly() {
      return ++m;
    });
    const writeHost = flow(async function writeOnlyHost() {
      const future = writeOnly.submit();
      const values = [await future.result(), await writeOnly()];
      return { values, details: future.state?.state_details };
    });
    const out = await writeHost();
    expect(out.values).toEqual([1, 2]);
    expect(out.details?.cache_key ?? null).toBeNull();
    expect(JSON.parse(recordAt(`write-only-${process.pid}`).result)).toBe(2);
  });
});
