import { mkdtempSync, rmSync } from "node:fs";
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
});
