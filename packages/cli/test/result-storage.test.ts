import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlockType } from "@baton/core";
import { startServer, type RunningServer } from "@baton/server";
import { BatonClient } from "@baton/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "./helpers.js";

let dir: string;
let server: RunningServer;
let env: Record<string, string>;
let blockId: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "baton-cli-result-storage-"));
  server = await startServer({ config: { host: "127.0.0.1", port: 0, home: dir, databaseUrl: `sqlite:${join(dir, "baton.db")}`, logLevel: "silent" }, services: false });
  const client = new BatonClient({ apiUrl: server.apiUrl });
  env = { BATON_API_URL: server.apiUrl };
  const type = await client.request<BlockType>("GET", "/block_types/slug/local-file-system");
  const [schema] = await client.request<Array<{ id: string }>>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [type.id] } } });
  blockId = (await client.request<{ id: string }>("POST", "/block_documents/", { name: "shared", data: { basepath: join(dir, "results") }, block_type_id: type.id, block_schema_id: schema!.id })).id;
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("baton result-storage", () => {
  it("set, inspect and clear the server's default result storage", async () => {
    expect((await runCli(["result-storage", "inspect"], env)).stdout).toContain("No default result storage is set");
    const set = await runCli(["result-storage", "set", "local-file-system/shared"], env);
    expect(set.code, set.stderr).toBe(0);
    expect(set.stdout).toBe("Set the server's default result storage to 'local-file-system/shared'.\n");
    const inspected = await runCli(["result-storage", "inspect", "--json"], env);
    expect(JSON.parse(inspected.stdout)).toEqual({ default_result_storage_block_id: blockId, block: "local-file-system/shared" });
    expect((await runCli(["result-storage", "inspect"], env)).stdout).toBe(`Default result storage: local-file-system/shared (${blockId})\n`);
    expect((await runCli(["result-storage", "clear"], env)).stdout).toContain("Cleared");
    expect(JSON.parse((await runCli(["result-storage", "inspect", "--json"], env)).stdout)).toEqual({ default_result_storage_block_id: null, block: null });
  });

  it("refuses a block that does not exist or is not SLUG/NAME", async () => {
    const missing = await runCli(["result-storage", "set", "local-file-system/nope"], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("local-file-system/nope");
    const bad = await runCli(["result-storage", "set", "nope"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("expected BLOCK-TYPE-SLUG/BLOCK-NAME");
  });

  it("prune deletes expired result records: from --path, or from the default storage (here the server's block)", async () => {
    const record = (folder: string, key: string, expiration: string | null) => {
      mkdirSync(folder, { recursive: true });
      const metadata = { storage_key: key, expiration, serializer: { type: "json" }, prefect_version: "3.4.0", storage_block_id: null };
      writeFileSync(join(folder, key), JSON.stringify({ metadata, result: "1" }));
    };
    const folder = join(dir, "prune-path");
    record(folder, "old", "2020-01-01T00:00:00Z");
    record(folder, "fresh", "2999-01-01T00:00:00Z");
    writeFileSync(join(folder, "notes.txt"), "not a record");

    const dry = await runCli(["result-storage", "prune", "--path", folder, "--dry-run", "--json"], env);
    expect(dry.code, dry.stderr).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({ storage: folder, scanned: 3, expired: ["old"], deleted: 0, not_records: 1 });
    expect(existsSync(join(folder, "old"))).toBe(true);

    const pruned = await runCli(["result-storage", "prune", "--path", folder], env);
    expect(pruned.code, pruned.stderr).toBe(0);
    expect(pruned.stdout).toBe(`deleted old\n${folder}: 3 file(s) scanned, 1 expired record(s), 1 deleted.\n`);
    expect(existsSync(join(folder, "old"))).toBe(false);
    expect(existsSync(join(folder, "fresh"))).toBe(true);

    // Without --path: the storage the SDK writes to by default, the server's block here.
    const shared = join(dir, "results");
    record(shared, "expired-in-block", "2020-01-01T00:00:00Z");
    expect((await runCli(["result-storage", "set", "local-file-system/shared"], env)).code).toBe(0);
    try {
      const viaBlock = await runCli(["result-storage", "prune", "--json"], { ...env, BATON_LOCAL_STORAGE_PATH: folder });
      expect(viaBlock.code, viaBlock.stderr).toBe(0);
      expect(JSON.parse(viaBlock.stdout)).toMatchObject({ storage: shared, expired: ["expired-in-block"], deleted: 1 });
      expect(existsSync(join(shared, "expired-in-block"))).toBe(false);
    } finally {
      await runCli(["result-storage", "clear"], env);
    }
  });
});
