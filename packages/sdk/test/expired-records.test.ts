import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configure, flow, InvalidOptionError, LocalFileSystem, pruneExpiredRecords, task, type ResultRecordMetadata, type ResultStorage } from "@baton/sdk";
import { startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let storageDir: string;
beforeAll(async () => {
  t = await startTestServer();
  storageDir = mkdtempSync(join(tmpdir(), "baton-expired-"));
  configure({ localStoragePath: storageDir });
});
afterAll(async () => {
  await t.close();
  rmSync(storageDir, { recursive: true, force: true });
});

function writeRecord(dir: string, key: string, value: unknown, expiration: string | null): void {
  const metadata: ResultRecordMetadata = { storage_key: key, expiration, serializer: { type: "json" }, prefect_version: "3.4.0", storage_block_id: null };
  mkdirSync(dirname(join(dir, key)), { recursive: true });
  writeFileSync(join(dir, key), JSON.stringify({ metadata, result: JSON.stringify(value) }));
}

function recordAt(dir: string, key: string): { metadata: ResultRecordMetadata; result: string } {
  return JSON.parse(readFileSync(join(dir, key), "utf8")) as { metadata: ResultRecordMetadata; result: string };
}

const PAST = "2020-01-01T00:00:00.000Z";
const FUTURE = "2999-01-01T00:00:00.000Z";

describe("expired records", () => {
  it("a cached record past its expiration is not used: the task runs and replaces it at the same key", async () => {
    const key = `expired-cache-${process.pid}`;
    writeRecord(storageDir, key, "stale", PAST);
    let ran = 0;
    const fresh = task({ name: "expired-cache", cacheKeyFn: () => key, cacheExpiration: 60 }, function fresh() {
      ran++;
      return "fresh";
    });
    const host = flow(async function expiredHost() {
      const future = fresh.submit();
      return { value: await future.result(), state: future.state };
    });
    const first = await host();
    expect(first.value).toBe("fresh");
    expect(first.state?.name).toBe("Completed");
    expect(ran).toBe(1);
    const replaced = recordAt(storageDir, key);
    expect(JSON.parse(replaced.result)).toBe("fresh");
    expect(Date.parse(replaced.metadata.expiration!)).toBeGreaterThan(Date.now());
    // And the replacement, not yet expired, is a hit.
    const second = await host();
    expect(second.state?.name).toBe("Cached");
    expect(ran).toBe(1);
  });

  it("pruneExpiredRecords deletes only records past their expiration; dryRun only lists them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-prune-"));
    try {
      writeRecord(dir, "old", 1, PAST);
      writeRecord(dir, "nested/deeper/old", 2, PAST);
      writeRecord(dir, "fresh", 3, FUTURE);
      writeRecord(dir, "forever", 4, null);
      writeFileSync(join(dir, "notes.txt"), "not a record");
      mkdirSync(join(dir, "parameters"), { recursive: true });
      writeFileSync(join(dir, "parameters", "0b7e6a3c-0000-4000-8000-000000000000"), JSON.stringify({ parameters: { x: 1 } }));
      mkdirSync(join(dir, ".locks"), { recursive: true });
      writeFileSync(join(dir, ".locks", "txn"), JSON.stringify({ metadata: { expiration: PAST } }));
      writeFileSync(join(dir, "old.123.abc.tmp"), "half written");
      const storage = new LocalFileSystem({ basepath: dir });

      const dry = await pruneExpiredRecords(storage, { dryRun: true });
      expect(dry.expired.sort()).toEqual(["nested/deeper/old", "old"]);
      expect(dry.deleted).toBe(0);
      expect(existsSync(join(dir, "old"))).toBe(true);

      const report = await pruneExpiredRecords(storage);
      expect(report).toEqual({ storage: dir, scanned: 6, expired: expect.arrayContaining(["old", "nested/deeper/old"]) as string[], deleted: 2, notRecords: 2 });
      expect(existsSync(join(dir, "old"))).toBe(false);
      expect(existsSync(join(dir, "nested", "deeper", "old"))).toBe(false);
      for (const kept of ["fresh", "forever", "notes.txt", "parameters/0b7e6a3c-0000-4000-8000-000000000000", ".locks/txn", "old.123.abc.tmp"]) {
        expect(existsSync(join(dir, kept)), kept).toBe(true);
      }
      // `now` moves the line: the fresh record expires in the year 2999.
      expect((await pruneExpiredRecords(storage, { now: new Date("3000-01-01T00:00:00Z") })).expired).toEqual(["fresh"]);
      expect(existsSync(join(dir, "fresh"))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the window's edge: a record expiring at `now` is pruned, one expiring a millisecond later is kept; an invalid `now` is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-prune-edge-"));
    try {
      const now = new Date("2030-06-01T12:00:00.000Z");
      writeRecord(dir, "at-now", 1, now.toISOString());
      writeRecord(dir, "a-ms-later", 2, new Date(now.getTime() + 1).toISOString());
      writeRecord(dir, "a-ms-before", 3, new Date(now.getTime() - 1).toISOString());
      const storage = new LocalFileSystem({ basepath: dir });
      const report = await pruneExpiredRecords(storage, { now });
      expect(report.expired.sort()).toEqual(["a-ms-before", "at-now"]);
      expect(existsSync(join(dir, "a-ms-later"))).toBe(true);
      // NaN compares false with everything: every record with an expiration would go.
      await expect(pruneExpiredRecords(storage, { now: new Date("not a date") })).rejects.toThrow(InvalidOptionError);
      await expect(pruneExpiredRecords(storage, { now: "2030-01-01" as unknown as Date })).rejects.toThrow("pruneExpiredRecords.now: must be a valid Date");
      expect(existsSync(join(dir, "a-ms-later"))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a cached task's record is pruned once expired, and the task then runs again", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-prune-task-"));
    try {
      const storage = new LocalFileSystem({ basepath: dir });
      let ran = 0;
      const cached = task({ name: "prunable", resultStorage: storage, resultStorageKey: "prunable-{parameters[n]}", cacheExpiration: 3600 }, function cached(n: number) {
        ran++;
        return n;
      });
      const host = flow(async function prunableHost() {
        return [await cached(1), await cached(1)];
      });
      expect(await host()).toEqual([1, 1]);
      expect(ran).toBe(1);
      expect((await pruneExpiredRecords(storage)).deleted).toBe(0);
      const later = new Date(Date.now() + 2 * 3600_000);
      expect(await pruneExpiredRecords(storage, { now: later })).toMatchObject({ expired: ["prunable-1"], deleted: 1 });
      expect(existsSync(join(dir, "prunable-1"))).toBe(false);
      await host();
      expect(ran).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a record that changes between the scan and the delete is kept (a run replaced it)", async () => {
    const dir = mkdtempSync(join(tmpdir(), "baton-prune-race-"));
    try {
      const inner = new LocalFileSystem({ basepath: dir });
      writeRecord(dir, "raced", "old", PAST);
      let reads = 0;
      const racing: ResultStorage = {
        blockTypeSlug: "local-file-system",
        describe: () => inner.describe(),
        listPaths: () => inner.listPaths(),
        writePath: (k, d) => inner.writePath(k, d),
        deletePath: (k) => inner.deletePath(k),
        async readPath(key) {
          // Between the first read and the check before deleting, a run writes a fresh record.
          if (++reads === 2) writeRecord(dir, key, "new", FUTURE);
          return inner.readPath(key);
        },
      };
      const report = await pruneExpiredRecords(racing);
      expect(report.expired).toEqual(["raced"]);
      expect(report.deleted).toBe(0);
      expect(JSON.parse(recordAt(dir, "raced").result)).toBe("new");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a storage that cannot list its keys is refused, naming it", async () => {
    const unlisted: ResultStorage = {
      blockTypeSlug: "mine",
      describe: () => "my-store",
      readPath: async () => undefined,
      writePath: async () => undefined,
      deletePath: async () => undefined,
    };
    await expect(pruneExpiredRecords(unlisted)).rejects.toThrow(InvalidOptionError);
    await expect(pruneExpiredRecords(unlisted)).rejects.toThrow("storage: my-store cannot list its keys");
  });
});
