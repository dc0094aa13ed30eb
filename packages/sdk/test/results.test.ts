import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  CachePolicies,
  configure,
  flow,
  InvalidOptionError,
  LocalFileSystem,
  MissingResultError,
  PickleNotSupportedError,
  pruneExpiredRecords,
  readStateResult,
  registerSerializer,
  S3Bucket,
  task,
  TaskRunFailedError,
  transaction,
  UnknownSerializerError,
  UnreadableResultRecordError,
  UnsupportedIsolationLevelError,
  type ResultRecordMetadata,
  type ResultStorage,
} from "@baton/sdk";
import { startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let storageDir: string;
beforeAll(async () => {
  t = await startTestServer();
  storageDir = mkdtempSync(join(tmpdir(), "baton-results-"));
  configure({ localStoragePath: storageDir });
});
afterAll(async () => {
  await t.close();
  rmSync(storageDir, { recursive: true, force: true });
});

function recordFile(key: string): { metadata: ResultRecordMetadata; result: string } {
  return JSON.parse(readFileSync(join(storageDir, key), "utf8")) as { metadata: ResultRecordMetadata; result: string };
}

describe("persisted results", () => {
  it("a persisted task result is a record in storage; the COMPLETED state carries its metadata, and it reads back", async () => {
    const add = task({ name: "add-persisted", persistResult: true, cachePolicy: CachePolicies.NONE }, function add(a: number, b: number) {
      return { sum: a + b };
    });
    let taskRunId = "";
    const host = flow(async function persisted() {
      const future = add.submit(2, 3);
      taskRunId = future.taskRunId;
      return future.result();
    });
    expect(await host()).toEqual({ sum: 5 });

    const run = await t.client.readTaskRun(taskRunId);
    expect(run.state_type).toBe("COMPLETED");
    const data = run.state?.data as ResultRecordMetadata;
    expect(data).toMatchObject({ serializer: { type: "json" }, expiration: null, storage_block_id: null });
    expect(data.storage_key).toMatch(/^[0-9a-f]{32}$/);
    // Prefect 3's ResultRecord: metadata + the serializer's text.
    const record = recordFile(data.storage_key);
    expect(record.metadata.storage_key).toBe(data.storage_key);
    expect(record.metadata.prefect_version).toBeTypeOf("string");
    expect(JSON.parse(record.result)).toEqual({ sum: 5 });
    // Anyone with the state and the storage reads the value.
    expect(await readStateResult(run.state!, t.client)).toEqual({ sum: 5 });
  });

  it("a flow with persistResult persists its own result and its tasks' (which inherit it)", async () => {
    const double = task(function doubleIt(n: number) {
      return n * 2;
    });
    const outcome = await flow({ name: "persisting-flow", persistResult: true }, async function persistingFlow(n: number) {
      return double(n);
    }).run(21);
    expect(outcome.ok).toBe(true);
    const data = outcome.state.data as ResultRecordMetadata;
    expect(recordFile(data.storage_key).result).toBe("42");
    const flowRun = await t.client.readFlowRun(outcome.flowRun.id);
    expect(await readStateResult(flowRun.state!, t.client)).toBe(42);
    const [taskRun] = await t.client.filterTaskRuns({ task_runs: { flow_run_id: { any_: [outcome.flowRun.id] } } });
    expect(taskRun?.state?.data).toMatchObject({ serializer: { type: "json" } });
  });

  it("the v8 serializer keeps Dates, Maps, Sets and BigInts", async () => {
    const value = { when: new Date("2026-01-02T03:04:05Z"), seen: new Map([["a", 1n]]), tags: new Set(["x"]) };
    const make = task({ name: "make-v8", resultSerializer: "v8", cachePolicy: CachePolicies.INPUTS }, function make(tag: string) {
      return { ...value, tag };
    });
    const first = await flow(async function v8First() {
      return make("v8-keeps-types");
    })();
    expect(first.when).toBeInstanceOf(Date);
    // The second call is a cache hit, so the value comes from the record.
    const second = await flow(async function v8Second() {
      return make("v8-keeps-types");
    })();
    expect(second.when).toEqual(value.when);
    expect(second.seen.get("a")).toBe(1n);
    expect(second.tags.has("x")).toBe(true);
  });

  it("a value JSON cannot carry is returned but not persisted, with a warning (the run still completes)", async () => {
    const dated = task({ name: "dated-json", persistResult: true, cachePolicy: CachePolicies.NONE }, function dated() {
      return new Date(0);
    });
    let id = "";
    const value = await flow(async function jsonRefuses() {
      const f = dated.submit();
      id = f.taskRunId;
      return f.result();
    })();
    expect(value).toEqual(new Date(0));
    const run = await t.client.readTaskRun(id);
    expect(run.state_type).toBe("COMPLETED");
    expect(run.state?.data).toBeNull();
    expect(run.state?.state_details.untrackable_result).toBe(true);
  });

  it("a custom serializer registered by type is used and named in the record", async () => {
    registerSerializer({ type: "reversed-json", dumps: (v) => [...JSON.stringify(v)].reverse().join(""), loads: (s) => JSON.parse([...s].reverse().join("")) as unknown });
    const rev = task({ name: "reversed", resultSerializer: "reversed-json", cachePolicy: CachePolicies.NONE }, function rev() {
      return "abc";
    });
    let id = "";
    await flow(async function customSerializer() {
      const f = rev.submit();
      id = f.taskRunId;
      return f.result();
    })();
    const data = (await t.client.readTaskRun(id)).state?.data as ResultRecordMetadata;
    expect(data.serializer.type).toBe("reversed-json");
    expect(recordFile(data.storage_key).result).toBe('"cba"');
  });
});

describe("bad cases", () => {
  it("an unknown serializer name is refused at task() and flow() time, naming the option", () => {
    expect(() => task({ resultSerializer: "yaml" }, function p() {})).toThrow(InvalidOptionError);
    expect(() => task({ resultSerializer: "yaml" }, function p() {})).toThrow(/task\.resultSerializer: Unknown result serializer 'yaml' \(known: json, v8/);
    expect(() => flow({ resultSerializer: "yaml" }, function f() {})).toThrow(/flow\.resultSerializer: Unknown result serializer 'yaml'/);
    // Python's pickle is named as such.
    expect(() => task({ resultSerializer: "pickle" }, function p() {})).toThrow(
      /^task\.resultSerializer: Result serializer 'pickle' is Python's pickle \(Python Prefect's\), which Node\.js cannot read or write: have the Python side persist such results with result_serializer="json"/,
    );
    expect(() => flow({ resultSerializer: "compressed/pickle" }, function f() {})).toThrow("flow.resultSerializer: Result serializer 'compressed/pickle' is Python's pickle");
  });

  it("a bad cacheExpiration, cachePolicy or resultStorage is refused naming the field", () => {
    expect(() => task({ cacheExpiration: -5 }, function e() {})).toThrow("task.cacheExpiration: must be a number of seconds above 0");
    expect(() => task({ cacheExpiration: Number.POSITIVE_INFINITY }, function e() {})).toThrow("task.cacheExpiration: must be a number of seconds");
    expect(() => task({ cacheExpiration: "1h" as unknown as number }, function e() {})).toThrow("task.cacheExpiration: must be a number of seconds");
    expect(() => task({ cacheExpirationSeconds: 0 }, function e() {})).toThrow("task.cacheExpirationSeconds: must be a number of seconds above 0");
    expect(() => task({ cachePolicy: "INPUTS" as never }, function e() {})).toThrow("task.cachePolicy: must be a cache policy");
    expect(() => task({ cachePolicy: [CachePolicies.INPUTS, {} as never] }, function e() {})).toThrow("task.cachePolicy.1: must be a cache policy");
    expect(() => task({ resultStorage: { path: "/tmp" } as never }, function e() {})).toThrow(/task\.resultStorage: must be a result storage/);
  });

  it("an unreadable record at a cache key fails the run (not retried) with UnreadableResultRecordError", async () => {
    mkdirSync(storageDir, { recursive: true });
    writeFileSync(join(storageDir, "corrupt-key"), "this is not JSON");
    writeFileSync(join(storageDir, "wrong-shape"), JSON.stringify({ hello: "world" }));
    let ran = 0;
    const cached = task({ name: "reads-corrupt", retries: 2, cacheKeyFn: ({ args: [k] }) => k as string }, function cached(key: string) {
      ran++;
      return key;
    });
    for (const [key, reason] of [
      ["corrupt-key", "not JSON"],
      ["wrong-shape", "not a result record (metadata: "],
    ] as const) {
      const outcome = await flow(async function readsCorrupt() {
        return cached(key);
      }).run();
      expect(outcome.ok).toBe(false);
      if (outcome.ok) continue;
      const taskError = outcome.error.cause as TaskRunFailedError;
      expect(taskError).toBeInstanceOf(TaskRunFailedError);
      expect(taskError.cause).toBeInstanceOf(UnreadableResultRecordError);
      expect((taskError.cause as Error).message).toContain(`The result record '${key}' in ${storageDir} cannot be read: ${reason}`);
      const run = await t.client.readTaskRun(taskError.runId);
      expect(run.state_type).toBe("FAILED");
      expect(run.run_count).toBe(0);
    }
    expect(ran).toBe(0);
  });

  it("a pickle record (Python Prefect's) fails with PickleNotSupportedError naming the serializer and the record; another unknown serializer with UnknownSerializerError; a missing record is a MissingResultError", async () => {
    const metadata = { storage_key: "from-python", expiration: null, serializer: { type: "pickle", picklelib: "cloudpickle", picklelib_version: null }, prefect_version: "3.4.0", storage_block_id: null };
    writeFileSync(join(storageDir, "from-python"), JSON.stringify({ metadata, result: "gASVAAAA" }));
    const state = { id: "s1", data: metadata, state_details: {} };
    await expect(readStateResult(state as never, t.client)).rejects.toThrow(PickleNotSupportedError);
    await expect(readStateResult(state as never, t.client)).rejects.toThrow(UnknownSerializerError);
    await expect(readStateResult(state as never, t.client)).rejects.toThrow(
      `The result record 'from-python' in ${storageDir} uses serializer 'pickle': Python's pickle (Python Prefect's), which Node.js cannot read or write`,
    );
    // A cached pickle record fails the task run at once, naming it.
    let ran = 0;
    const cachedPickle = task({ name: "reads-pickle", retries: 1, cacheKeyFn: () => "from-python" }, function cachedPickle() {
      ran++;
      return 1;
    });
    const outcome = await flow(async function readsPickle() {
      return cachedPickle();
    }).run();
    expect(outcome.ok).toBe(false);
    if (!outcome.ok) expect(((outcome.error.cause as Error).cause as Error).name).toBe("PickleNotSupportedError");
    expect(ran).toBe(0);
    const yaml = { ...metadata, storage_key: "from-yaml", serializer: { type: "yaml" } };
    writeFileSync(join(storageDir, "from-yaml"), JSON.stringify({ metadata: yaml, result: "a: 1" }));
    await expect(readStateResult({ id: "s4", data: yaml, state_details: {} } as never, t.client)).rejects.toThrow("Unknown result serializer 'yaml'");
    const missing = { id: "s2", data: { ...metadata, storage_key: "nowhere", serializer: { type: "json" } }, state_details: {} };
    await expect(readStateResult(missing as never, t.client)).rejects.toThrow(MissingResultError);
    await expect(readStateResult(missing as never, t.client)).rejects.toThrow(`no result record 'nowhere' in ${storageDir}`);
  });

  it("reads a record in the shape Python Prefect's JSON serializer writes", async () => {
    const metadata = {
      storage_key: "prefect-json",
      expiration: null,
      serializer: { type: "json", jsonlib: "json", object_encoder: "prefect.serializers.prefect_json_object_encoder", object_decoder: "prefect.serializers.prefect_json_object_decoder", dumps_kwargs: {}, loads_kwargs: {} },
      prefect_version: "3.4.11",
      storage_block_id: null,
    };
    writeFileSync(join(storageDir, "prefect-json"), JSON.stringify({ metadata, result: JSON.stringify({ rows: [1, 2, 3] }) }));
    expect(await readStateResult({ id: "s3", data: metadata, state_details: {} } as never, t.client)).toEqual({ rows: [1, 2, 3] });
  });

  it("a storage key that would leave the storage folder is refused", async () => {
    const storage = new LocalFileSystem({ basepath: storageDir });
    await expect(storage.writePath("../escape", Buffer.from("x"))).rejects.toThrow(/is not a path inside/);
  });
});

describe("S3-compatible storage", () => {
  let s3: S3rver;
  let endpointUrl: string;
  const s3Dir = mkdtempSync(join(tmpdir(), "baton-s3rver-"));
  beforeAll(async () => {
    // s3rver: a real S3 server (HTTP, S3's XML API, signature checks) on a free port, files in a temp folder.
    s3 = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: s3Dir, configureBuckets: [{ name: "baton-results", configs: [] }] });
    const { port } = await s3.run();
    endpointUrl = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    await s3.close();
    rmSync(s3Dir, { recursive: true, force: true });
  });
  const credentials = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };

  it("writes result records to a bucket folder and reads them back from another S3Bucket instance", async () => {
    const storage = new S3Bucket({ bucket: "baton-results", folder: "etl/", endpointUrl, credentials });
    const fetchRows = task({ name: "s3-rows", resultStorage: storage, cachePolicy: CachePolicies.INPUTS }, function fetchRows(n: number) {
      return Array.from({ length: n }, (_, i) => ({ i }));
    });
    let id = "";
    await flow(async function toS3() {
      const f = fetchRows.submit(3);
      id = f.taskRunId;
      return f.result();
    })();
    const data = (await t.client.readTaskRun(id)).state?.data as ResultRecordMetadata;
    const raw = await new S3Bucket({ bucket: "baton-results", endpointUrl, credentials }).readPath(`etl/${data.storage_key}`);
    expect(JSON.parse(raw!.toString()).metadata.storage_key).toBe(data.storage_key);

    // A second process would build its own storage: a fresh instance, same bucket and folder.
    let ran = false;
    const again = task({ name: "s3-rows", resultStorage: new S3Bucket({ bucket: "baton-results", folder: "etl", endpointUrl, credentials }), cachePolicy: CachePolicies.INPUTS }, function fetchRows(n: number) {
      ran = true;
      return Array.from({ length: n }, (_, i) => ({ i }));
    });
    const value = await flow(async function fromS3() {
      return again(3);
    })();
    expect(ran).toBe(false);
    expect(value).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
  });

  it("the default storage is S3 when BATON_RESULTS_S3_BUCKET is set", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      BATON_RESULTS_S3_BUCKET: "baton-results",
      BATON_RESULTS_S3_FOLDER: "by-env",
      BATON_RESULTS_S3_ENDPOINT_URL: endpointUrl,
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
    });
    try {
      const outcome = await flow({ name: "s3-env-flow", persistResult: true }, async function s3EnvFlow() {
        return "in the bucket";
      }).run();
      const data = outcome.state.data as ResultRecordMetadata;
      const raw = await new S3Bucket({ bucket: "baton-results", endpointUrl, credentials }).readPath(`by-env/${data.storage_key}`);
      expect(JSON.parse(JSON.parse(raw!.toString()).result)).toBe("in the bucket");
      expect(await readStateResult(outcome.state, t.client)).toBe("in the bucket");
    } finally {
      for (const k of ["BATON_RESULTS_S3_BUCKET", "BATON_RESULTS_S3_FOLDER", "BATON_RESULTS_S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
        if (saved[k] === undefined) delete process.env[k];
        else process.env[k] = saved[k];
      }
    }
  });

  it("pruneExpiredRecords lists a bucket folder page by page and deletes only its expired records", async () => {
    const storage = new S3Bucket({ bucket: "baton-results", folder: "prune-me", endpointUrl, credentials });
    const outside = new S3Bucket({ bucket: "baton-results", folder: "keep-me", endpointUrl, credentials });
    const record = (key: string, expiration: string | null) =>
      Buffer.from(JSON.stringify({ metadata: { storage_key: key, expiration, serializer: { type: "json" }, prefect_version: "3.4.0", storage_block_id: null }, result: "1" }));
    await storage.writePath("a/old", record("a/old", "2020-01-01T00:00:00Z"));
    await storage.writePath("fresh", record("fresh", "2999-01-01T00:00:00Z"));
    await storage.writePath("junk", Buffer.from("not a record"));
    await outside.writePath("old", record("old", "2020-01-01T00:00:00Z"));
    const keys: string[] = [];
    for await (const key of storage.listPaths()) keys.push(key);
    expect(keys.sort()).toEqual(["a/old", "fresh", "junk"]);
    const report = await pruneExpiredRecords(storage);
    expect(report).toEqual({ storage: "s3://baton-results/prune-me/", scanned: 3, expired: ["a/old"], deleted: 1, notRecords: 1 });
    expect(await storage.readPath("a/old")).toBeUndefined();
    expect(await storage.readPath("fresh")).toBeDefined();
    expect(await outside.readPath("old")).toBeDefined();
  });

  it("s3rver does not honour conditional writes (PutObject If-None-Match: *): S3Bucket with locking: true refuses SERIALIZABLE on it instead of locking nothing", async () => {
    // An S3 lock object needs a create that fails when the object exists: AWS S3 (since 2024),
    // MinIO and moto answer such a PutObject with 412 PreconditionFailed; s3rver 3.7.1
    // overwrites. The locks themselves are tested against moto in s3-locks.test.ts.
    const client = new S3Client({ endpoint: endpointUrl, region: "us-east-1", forcePathStyle: true, credentials });
    const sent: Array<string | undefined> = [];
    client.middlewareStack.add(
      (next) => async (args) => {
        sent.push((args.request as { headers: Record<string, string> }).headers["if-none-match"]);
        return next(args);
      },
      { step: "finalizeRequest", name: "recordIfNoneMatch" },
    );
    await client.send(new PutObjectCommand({ Bucket: "baton-results", Key: "lock-probe", Body: "first holder", IfNoneMatch: "*" }));
    await client.send(new PutObjectCommand({ Bucket: "baton-results", Key: "lock-probe", Body: "second holder", IfNoneMatch: "*" }));
    expect(sent).toEqual(["*", "*"]);
    const body = await (await client.send(new GetObjectCommand({ Bucket: "baton-results", Key: "lock-probe" }))).Body!.transformToString();
    expect(body).toBe("second holder");
    client.destroy();

    const plain = new S3Bucket({ bucket: "baton-results", endpointUrl, credentials });
    expect((plain as ResultStorage).locks).toBeUndefined();
    await expect(transaction({ key: "s3-serial", isolationLevel: "SERIALIZABLE", storage: plain }, () => 1)).rejects.toThrow("S3Bucket with conditional writes when made with `locking: true`");
    const locking = new S3Bucket({ bucket: "baton-results", endpointUrl, credentials, locking: true });
    let ran = false;
    const refused = transaction({ key: "s3-serial", isolationLevel: "SERIALIZABLE", storage: locking }, () => (ran = true));
    await expect(refused).rejects.toThrow(UnsupportedIsolationLevelError);
    await expect(refused).rejects.toThrow(
      "Isolation level SERIALIZABLE is not supported by the result storage s3://baton-results/: its S3 server does not honour conditional writes (a second PutObject with If-None-Match: * of one object succeeded)",
    );
    expect(ran).toBe(false);
    // The probe object was removed.
    const listing = new S3Client({ endpoint: endpointUrl, region: "us-east-1", forcePathStyle: true, credentials });
    const probes = await listing.send(new ListObjectsV2Command({ Bucket: "baton-results", Prefix: ".locks/" }));
    listing.destroy();
    expect(probes.Contents ?? []).toEqual([]);
    expect(() => new S3Bucket({ bucket: "baton-results", lockStaleSeconds: 0 })).toThrow("S3Bucket.lockStaleSeconds: must be a number of seconds above 0");
  });

  it("a lock's stale time that is not a number of seconds above 0 is refused, naming the field", () => {
    for (const bad of [0, -1, Number.NaN, Number.POSITIVE_INFINITY, "30" as unknown as number]) {
      expect(() => new S3Bucket({ bucket: "baton-results", lockStaleSeconds: bad }), String(bad)).toThrow(InvalidOptionError);
      expect(() => new S3Bucket({ bucket: "baton-results", lockStaleSeconds: bad }), String(bad)).toThrow("S3Bucket.lockStaleSeconds: must be a number of seconds above 0");
      expect(() => new LocalFileSystem({ basepath: "/tmp/x", staleSeconds: bad }), String(bad)).toThrow(InvalidOptionError);
      expect(() => new LocalFileSystem({ basepath: "/tmp/x", staleSeconds: bad }), String(bad)).toThrow("LocalFileSystem.staleSeconds: must be a number of seconds above 0");
    }
    expect(() => new LocalFileSystem({ staleSeconds: Number.NaN })).toThrow("got NaN");
    expect(() => new LocalFileSystem({ staleSeconds: "10" as unknown as number })).toThrow('got "10"');
    expect(new LocalFileSystem({ basepath: "/tmp/x", staleSeconds: 0.5 }).locks).toBeDefined();
  });

  it("a bad bucket name is refused", () => {
    expect(() => new S3Bucket({ bucket: "Not_A_Bucket" })).toThrow("S3Bucket.bucket: 'Not_A_Bucket' is not a valid bucket name");
  });
});
