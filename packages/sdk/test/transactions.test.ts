import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  configure,
  flow,
  getTransaction,
  InvalidOptionError,
  LocalFileSystem,
  LockTimeoutError,
  S3Bucket,
  task,
  transaction,
  UnsupportedIsolationLevelError,
  UnreadableResultRecordError,
  type TransactionHookContext,
} from "@baton/sdk";
import { runFixture, sleep, startTestServer, type FixtureOutcome, type TestServer } from "./helpers.js";

let t: TestServer;
let storageDir: string;
beforeAll(async () => {
  t = await startTestServer();
  storageDir = mkdtempSync(join(tmpdir(), "baton-txn-"));
  configure({ localStoragePath: storageDir });
});
afterAll(async () => {
  await t.close();
  rmSync(storageDir, { recursive: true, force: true });
});

const uniqueKey = (name: string) => `${name}-${Math.random().toString(36).slice(2)}`;

describe("transactions", () => {
  it("a failing task rolls the transaction back: onRollback hooks of the completed tasks run, newest first, and nothing is committed", async () => {
    const events: string[] = [];
    const write = task(
      {
        name: "write-side-effect",
        onCommit: ({ taskName }: TransactionHookContext) => void events.push(`commit ${taskName}`),
        onRollback: ({ result }: TransactionHookContext) => void events.push(`rollback ${String(result)}`),
      },
      function write(what: string) {
        events.push(`wrote ${what}`);
        return what;
      },
    );
    const check = task({ name: "quality-check" }, function check() {
      throw new Error("not enough data");
    });
    const key = uniqueKey("rollback");
    const outcome = await flow(async function rollingBack() {
      await transaction({ key }, async () => {
        await write("a");
        await write("b");
        await check();
      });
    }).run();
    expect(outcome.ok).toBe(false);
    expect(events).toEqual(["wrote a", "wrote b", "rollback b", "rollback a"]);
    expect(existsSync(join(storageDir, key))).toBe(false);
  });

  it("a transaction that completes commits: staged records are written at commit (LAZY), onCommit hooks run, and its record is at its key", async () => {
    const events: string[] = [];
    const key = uniqueKey("commit");
    let recordKey = "";
    const load = task({ name: "load-rows", onCommit: () => void events.push("commit load") }, function load(n: number) {
      events.push("load");
      return n * 2;
    });
    await flow(async function committing() {
      await transaction({ key }, async (txn) => {
        const f = load.submit(4);
        expect(await f.result()).toBe(8);
        recordKey = (f.state?.data as { storage_key: string }).storage_key;
        // LAZY: the task's record is not written until the transaction commits.
        expect(existsSync(join(storageDir, recordKey))).toBe(false);
        expect(txn.isActive()).toBe(true);
        events.push("block done");
      });
    })();
    expect(events).toEqual(["load", "block done", "commit load"]);
    expect(existsSync(join(storageDir, recordKey))).toBe(true);
    expect(existsSync(join(storageDir, key))).toBe(true);
  });

  it("an idempotent re-run: with a committed record for the key, the block's tasks return the stored results without running", async () => {
    const key = uniqueKey("idempotent");
    let downloads = 0;
    let writes = 0;
    const download = task({ name: "download" }, function download(url: string) {
      downloads++;
      return { url, bytes: 1024 * downloads };
    });
    const writeOut = task({ name: "write-out" }, function writeOut(size: number) {
      writes++;
      return `wrote ${size}`;
    });
    const pipeline = flow(async function idempotentPipeline() {
      return transaction({ key }, async (txn) => {
        const committedBefore = txn.isCommitted();
        const data = await download("https://example.com/a");
        const written = await writeOut(data.bytes);
        return { committedBefore, data, written };
      });
    });
    const first = await pipeline();
    const second = await pipeline();
    expect(first.committedBefore).toBe(false);
    expect(second.committedBefore).toBe(true);
    expect(second.data).toEqual(first.data);
    expect(second.written).toBe(first.written);
    expect([downloads, writes]).toEqual([1, 1]);

    // overwrite: runs again and commits anew.
    await flow(async function overwriting() {
      await transaction({ key, overwrite: true }, async () => {
        await download("https://example.com/a");
      });
    })();
    expect(downloads).toBe(2);
  });

  it("EAGER commits each task as it completes; OFF never commits and rolls back at the end", async () => {
    const events: string[] = [];
    const step = task(
      { name: "eager-step", onCommit: ({ result }: TransactionHookContext) => void events.push(`commit ${String(result)}`), onRollback: ({ result }: TransactionHookContext) => void events.push(`rollback ${String(result)}`) },
      function step(n: number) {
        return n;
      },
    );
    let eagerRecord = "";
    await flow(async function eager() {
      await transaction({ key: uniqueKey("eager"), commitMode: "EAGER" }, async () => {
        const f = step.submit(1);
        await f.result();
        eagerRecord = (f.state?.data as { storage_key: string }).storage_key;
        expect(existsSync(join(storageDir, eagerRecord))).toBe(true);
        expect(events).toEqual(["commit 1"]);
      });
    })();
    const offKey = uniqueKey("off");
    await flow(async function off() {
      await transaction({ key: offKey, commitMode: "OFF" }, async () => {
        await step(2);
      });
    })();
    expect(events).toEqual(["commit 1", "rollback 2"]);
    expect(existsSync(join(storageDir, offKey))).toBe(false);
  });

  it("nested transactions commit with the outer one; values set in the outer are visible in the inner", async () => {
    const events: string[] = [];
    const inner = task({ name: "inner-step", onCommit: () => void events.push("inner commit") }, function innerStep() {
      return getTransaction()?.get<string>("run-date");
    });
    const value = await flow(async function nested() {
      return transaction({ key: uniqueKey("outer") }, async (outer) => {
        outer.set("run-date", "2026-01-01");
        const got = await transaction({ key: uniqueKey("inner") }, async (innerTxn) => {
          expect(innerTxn.parent).toBe(outer);
          return inner();
        });
        events.push("outer block done");
        return got;
      });
    })();
    expect(value).toBe("2026-01-01");
    expect(events).toEqual(["outer block done", "inner commit"]);
    expect(() => getTransaction()).not.toThrow();
  });

  it("SERIALIZABLE: a second transaction with the same key waits for the lock, then finds the first one committed", async () => {
    const key = uniqueKey("serial");
    let runs = 0;
    const work = task({ name: "serial-work" }, async function work() {
      runs++;
      await sleep(300);
      return runs;
    });
    const one = flow(async function serialOne() {
      return transaction({ key, isolationLevel: "SERIALIZABLE" }, async (txn) => ({ committed: txn.isCommitted(), value: await work() }));
    });
    const [a, b] = await Promise.all([one(), (async () => (await sleep(50), one()))()]);
    expect(runs).toBe(1);
    expect(a).toEqual({ committed: false, value: 1 });
    expect(b).toEqual({ committed: true, value: 1 });
    expect(existsSync(join(storageDir, ".locks"))).toBe(true);
  });

  it("SERIALIZABLE: a lock held past lockTimeoutSeconds is a LockTimeoutError naming the key and the time waited", async () => {
    const key = uniqueKey("held");
    let release!: () => void;
    const holding = new Promise<void>((resolve) => (release = resolve));
    let entered!: () => void;
    const inside = new Promise<void>((resolve) => (entered = resolve));
    const holder = transaction({ key, isolationLevel: "SERIALIZABLE" }, async () => {
      entered();
      await holding;
    });
    await inside;
    try {
      const refused = await transaction({ key, isolationLevel: "SERIALIZABLE", lockTimeoutSeconds: 0.5 }, () => 1).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(LockTimeoutError);
      const timeout = refused as LockTimeoutError;
      expect(timeout).toMatchObject({ key, timeoutSeconds: 0.5, lock: join(storageDir, ".locks", `${encodeURIComponent(key)}.lock`) });
      expect(timeout.waitedSeconds).toBeGreaterThanOrEqual(0.5);
      expect(timeout.message).toContain(`Timed out after waiting ${timeout.waitedSeconds} s (lockTimeoutSeconds: 0.5) for the lock on transaction '${key}'`);
    } finally {
      release();
      await holder;
    }
  });

  it("a task submitted in the block and not awaited still belongs to the transaction: it is waited for and committed", async () => {
    const events: string[] = [];
    const slow = task({ name: "slow-unawaited", onCommit: () => void events.push("commit slow") }, async function slowUnawaited() {
      await sleep(200);
      events.push("slow done");
      return 1;
    });
    const key = uniqueKey("unawaited");
    await flow(async function unawaited() {
      await transaction({ key }, () => {
        void slow.submit();
        events.push("block returned");
      });
      events.push("after transaction");
    })();
    expect(events).toEqual(["block returned", "slow done", "commit slow", "after transaction"]);
  });

  it("an onCommit hook that throws rolls the transaction back; a record at the key that is not a transaction's is refused", async () => {
    const events: string[] = [];
    const step = task(
      {
        name: "commit-throws",
        onCommit: () => {
          throw new Error("cannot publish");
        },
        onRollback: () => void events.push("rolled back"),
      },
      function commitThrows() {
        return 1;
      },
    );
    const key = uniqueKey("commit-throws");
    await flow(async function commitThrowsFlow() {
      await transaction({ key }, async () => step());
    })();
    expect(events).toEqual(["rolled back"]);
    expect(existsSync(join(storageDir, key))).toBe(false);

    // A task result record (not a transaction's) sits at this key.
    const plain = task({ name: "plain-record", cacheKeyFn: () => "not-a-transaction" }, function plainRecord() {
      return 42;
    });
    await flow(async function writesPlain() {
      return plain();
    })();
    await expect(transaction({ key: "not-a-transaction" }, () => 1)).rejects.toThrow(UnreadableResultRecordError);
    await expect(transaction({ key: "not-a-transaction" }, () => 1)).rejects.toThrow("it is not a transaction record (no `tasks`)");
  });

  it("SERIALIZABLE on storage without locks (S3) is refused; bad options name the field", async () => {
    const s3 = new S3Bucket({ bucket: "no-locks-here", endpointUrl: "http://127.0.0.1:9" });
    await expect(transaction({ key: "k", isolationLevel: "SERIALIZABLE", storage: s3 }, () => 1)).rejects.toThrow(UnsupportedIsolationLevelError);
    await expect(transaction({ key: "k", isolationLevel: "SERIALIZABLE", storage: s3 }, () => 1)).rejects.toThrow(/Isolation level SERIALIZABLE is not supported by the result storage s3:\/\/no-locks-here/);
    await expect(transaction({ commitMode: "SOMETIMES" as never }, () => 1)).rejects.toThrow("transaction.commitMode: must be one of EAGER, LAZY, OFF");
    await expect(transaction({ isolationLevel: "REPEATABLE_READ" as never }, () => 1)).rejects.toThrow(InvalidOptionError);
    await expect(transaction({ key: "" }, () => 1)).rejects.toThrow("transaction.key: must be a non-empty string");
    await expect(transaction({ key: "k", lockTimeoutSeconds: -1 }, () => 1)).rejects.toThrow("transaction.lockTimeoutSeconds");
  });

  it("a committed transaction on storage other than the default reads its tasks' stored results from that storage on a re-run", async () => {
    const own = mkdtempSync(join(tmpdir(), "baton-txn-own-rerun-"));
    try {
      const key = uniqueKey("own-rerun");
      let runs = 0;
      const counted = task({ name: "own-rerun-work" }, function counted() {
        return ++runs;
      });
      const once = flow(async function ownRerun() {
        return transaction({ key, storage: new LocalFileSystem({ basepath: own }) }, async (txn) => ({ committed: txn.isCommitted(), value: await counted() }));
      });
      expect(await once()).toEqual({ committed: false, value: 1 });
      expect(await once()).toEqual({ committed: true, value: 1 });
      expect(runs).toBe(1);
    } finally {
      rmSync(own, { recursive: true, force: true });
    }
  });

  it("a transaction record in its own storage; a task outside any transaction runs onCommit at once", async () => {
    const own = mkdtempSync(join(tmpdir(), "baton-txn-own-"));
    const key = uniqueKey("own-storage");
    let committed = 0;
    const solo = task({ name: "solo", onCommit: () => void committed++ }, function solo() {
      return 1;
    });
    await flow(async function ownStorage() {
      await solo();
      await transaction({ key, storage: new LocalFileSystem({ basepath: own }) }, async () => solo());
    })();
    expect(committed).toBe(2);
    expect(existsSync(join(own, key))).toBe(true);
    rmSync(own, { recursive: true, force: true });
  });
});

describe("SERIALIZABLE across processes", () => {
  const shared = mkdtempSync(join(tmpdir(), "baton-txn-shared-"));
  afterAll(() => rmSync(shared, { recursive: true, force: true }));

  function start(home: string, key: string): Promise<FixtureOutcome> {
    return runFixture("serializable-txn", [key], join(shared, home), join(shared, "storage"));
  }

  it("two node processes enter the same SERIALIZABLE transaction at once: the work runs once, both get its result", async () => {
    const key = uniqueKey("two-processes");
    const [a, b] = await Promise.all([start("home-a", key), start("home-b", key)]);
    expect(a.code, a.stderr).toBe(0);
    expect(b.code, b.stderr).toBe(0);
    const ran = (a.stdout + b.stdout).match(/BODY RAN/g) ?? [];
    expect(ran).toHaveLength(1);
    const results = [a, b].map((p) => JSON.parse(p.stdout.split("RESULT ")[1]!) as { committedOnEntry: boolean; value: string });
    expect(results[0]!.value).toBe(results[1]!.value);
    expect(results.map((r) => r.committedOnEntry).sort()).toEqual([false, true]);
  }, 90_000);
});
