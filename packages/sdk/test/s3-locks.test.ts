import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flow, LockTimeoutError, S3Bucket, task, transaction } from "@baton/sdk";
import { runFixture, sleep, startTestServer, type FixtureOutcome, type TestServer } from "./helpers.js";

/**
 * SERIALIZABLE transactions on S3 with `locking: true`, against moto's S3 server (Python
 * `moto[server]`, on the machine image), which honours conditional writes as AWS S3 does.
 * s3rver, used by the other S3 tests, does not (see results.test.ts).
 */
const motoAvailable = spawnSync("python3", ["-c", "import moto.server"], { stdio: "ignore" }).status === 0;
if (!motoAvailable) console.warn("s3-locks.test.ts: skipped, python3 cannot import moto.server (pip install 'moto[server]')");

const BUCKET = "baton-locks";
const credentials = { accessKeyId: "test", secretAccessKey: "test" };

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

describe.skipIf(!motoAvailable)("SERIALIZABLE on S3 (conditional-write locks)", () => {
  let moto: ChildProcess;
  let endpointUrl: string;
  let raw: S3Client;
  let t: TestServer;
  const shared = mkdtempSync(join(tmpdir(), "baton-s3-locks-"));

  beforeAll(async () => {
    t = await startTestServer();
    const port = await freePort();
    endpointUrl = `http://127.0.0.1:${port}`;
    moto = spawn("python3", ["-m", "moto.server", "-H", "127.0.0.1", "-p", String(port)], { stdio: "ignore" });
    for (let i = 0; ; i++) {
      try {
        await fetch(endpointUrl);
        break;
      } catch {
        if (i > 150) throw new Error("moto server did not start within 15 s");
        await sleep(100);
      }
    }
    raw = new S3Client({ endpoint: endpointUrl, region: "us-east-1", forcePathStyle: true, credentials });
    await raw.send(new CreateBucketCommand({ Bucket: BUCKET }));
  }, 30_000);

  afterAll(async () => {
    raw?.destroy();
    moto?.kill();
    await t?.close();
    rmSync(shared, { recursive: true, force: true });
  });

  const bucket = (extra: { lockStaleSeconds?: number } = {}) => new S3Bucket({ bucket: BUCKET, folder: "txn", endpointUrl, credentials, locking: true, ...extra });
  const lockKey = (key: string) => `txn/.locks/${encodeURIComponent(key)}`;
  async function lockObject(key: string): Promise<string | undefined> {
    try {
      return await (await raw.send(new GetObjectCommand({ Bucket: BUCKET, Key: lockKey(key) }))).Body!.transformToString();
    } catch {
      return undefined;
    }
  }

  it("a second transaction with the same key waits for the lock object, then finds the first committed; the lock is deleted after", async () => {
    const key = `serial-${process.pid}-${Date.now()}`;
    let runs = 0;
    let seenLock: string | undefined;
    const work = task({ name: "s3-serial-work" }, async function work() {
      runs++;
      seenLock = await lockObject(key);
      await sleep(300);
      return runs;
    });
    const storage = bucket();
    const one = flow(async function s3SerialOne() {
      return transaction({ key, isolationLevel: "SERIALIZABLE", storage }, async (txn) => ({ committed: txn.isCommitted(), value: await work() }));
    });
    const [a, b] = await Promise.all([one(), (async () => (await sleep(50), one()))()]);
    expect(runs).toBe(1);
    // Either may win: both wait for the first lock's conditional-write check before racing.
    expect([a, b].sort((x, y) => Number(x.committed) - Number(y.committed))).toEqual([
      { committed: false, value: 1 },
      { committed: true, value: 1 },
    ]);
    expect(JSON.parse(seenLock!)).toMatchObject({ pid: process.pid, holder: expect.any(String) as string });
    expect(await lockObject(key)).toBeUndefined();
  });

  it("a lock held by someone else times out after lockTimeoutSeconds; a stale one (its holder stopped refreshing) is taken over", async () => {
    const key = `held-${process.pid}-${Date.now()}`;
    const body = (expires: string) => JSON.stringify({ holder: "someone-else", host: "elsewhere", pid: 1, expires });
    await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: lockKey(key), Body: body(new Date(Date.now() + 60_000).toISOString()) }));
    const started = Date.now();
    const refused = await transaction({ key, isolationLevel: "SERIALIZABLE", storage: bucket(), lockTimeoutSeconds: 1 }, () => 1).catch((error: unknown) => error);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1000);
    expect(refused).toBeInstanceOf(LockTimeoutError);
    const timeout = refused as LockTimeoutError;
    expect(timeout).toMatchObject({ name: "LockTimeoutError", key, timeoutSeconds: 1, lock: `s3://${BUCKET}/${lockKey(key)}` });
    expect(timeout.waitedSeconds).toBeGreaterThanOrEqual(1);
    expect(timeout.message).toBe(
      `Timed out after waiting ${timeout.waitedSeconds} s (lockTimeoutSeconds: 1) for the lock on transaction '${key}' (s3://${BUCKET}/${lockKey(key)})`,
    );

    await raw.send(new PutObjectCommand({ Bucket: BUCKET, Key: lockKey(key), Body: body("2020-01-01T00:00:00Z") }));
    expect(await transaction({ key, isolationLevel: "SERIALIZABLE", storage: bucket(), lockTimeoutSeconds: 5 }, () => "took over")).toBe("took over");
    expect(await lockObject(key)).toBeUndefined();
  });

  it("the holder refreshes its lock: a waiter does not take over a lock held longer than lockStaleSeconds", async () => {
    const key = `refresh-${process.pid}-${Date.now()}`;
    const storage = bucket({ lockStaleSeconds: 1 });
    let inside = 0;
    let overlapped = false;
    const hold = async (ms: number) =>
      transaction({ key, isolationLevel: "SERIALIZABLE", storage, overwrite: true }, async () => {
        inside++;
        if (inside > 1) overlapped = true;
        await sleep(ms);
        inside--;
      });
    await Promise.all([hold(3000), (async () => (await sleep(100), hold(10)))()]);
    expect(overlapped).toBe(false);
  });

  it("a refresh slower than the refresh interval is not doubled: the lock is kept, and deleted at release", async () => {
    const key = `slow-refresh-${process.pid}-${Date.now()}`;
    // The real server, with every refresh (a PutObject with If-Match) taking 700 ms: three
    // refresh ticks (every 200 ms with lockStaleSeconds 0.6) pass while one is in flight.
    const client = new S3Client({ endpoint: endpointUrl, region: "us-east-1", forcePathStyle: true, credentials });
    let inFlight = 0;
    let mostInFlight = 0;
    let refreshes = 0;
    client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { IfMatch?: string };
        if (context.commandName !== "PutObjectCommand" || input.IfMatch === undefined) return next(args);
        inFlight++;
        refreshes++;
        mostInFlight = Math.max(mostInFlight, inFlight);
        try {
          await sleep(700);
          return await next(args);
        } finally {
          inFlight--;
        }
      },
      { step: "initialize", name: "slowRefresh" },
    );
    try {
      const storage = new S3Bucket({ bucket: BUCKET, folder: "txn", client, locking: true, lockStaleSeconds: 0.6 });
      let heldDuring: string | undefined;
      await transaction({ key, isolationLevel: "SERIALIZABLE", storage, overwrite: true }, async () => {
        await sleep(2000);
        heldDuring = await lockObject(key);
      });
      expect(heldDuring).toBeDefined();
      expect(refreshes).toBeGreaterThanOrEqual(2);
      expect(mostInFlight).toBe(1);
      // Overlapping refreshes would have had the second refused (its ETag was replaced by the
      // first), taken that for a lost lock, and left the object behind.
      expect(await lockObject(key)).toBeUndefined();
    } finally {
      client.destroy();
    }
  });

  it("two node processes enter the same SERIALIZABLE transaction on the bucket at once: the work runs once, both get its result", async () => {
    const key = `two-processes-${process.pid}-${Date.now()}`;
    const start = (home: string): Promise<FixtureOutcome> =>
      runFixture("serializable-s3-txn", [key], join(shared, home), join(shared, "storage"), { S3_ENDPOINT: endpointUrl, S3_BUCKET: BUCKET, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" });
    const [a, b] = await Promise.all([start("home-a"), start("home-b")]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    expect((a.stdout + b.stdout).match(/BODY RAN/g) ?? []).toHaveLength(1);
    const results = [a, b].map((p) => JSON.parse(p.stdout.split("RESULT ")[1]!) as { committedOnEntry: boolean; value: string });
    expect(results[0]!.value).toBe(results[1]!.value);
    expect(results.map((r) => r.committedOnEntry).sort()).toEqual([false, true]);
  }, 90_000);
});
