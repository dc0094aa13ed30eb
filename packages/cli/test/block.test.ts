import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BlockType } from "@baton/core";
import { startServer, type RunningServer } from "@baton/server";
import { BatonClient } from "@baton/sdk";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, runCli } from "./helpers.js";

let dir: string;
let server: RunningServer;
let client: BatonClient;
let env: Record<string, string>;

beforeAll(async () => {
  // Its own BATON_HOME: the block encryption key file is written there.
  dir = mkdtempSync(join(tmpdir(), "baton-cli-blocks-"));
  server = await startServer({ config: { host: "127.0.0.1", port: 0, home: dir, databaseUrl: `sqlite:${join(dir, "baton.db")}`, logLevel: "silent" }, services: false });
  client = new BatonClient({ apiUrl: server.apiUrl });
  env = { BATON_API_URL: server.apiUrl };
  const secret = await client.request<BlockType>("GET", "/block_types/slug/secret");
  const [schema] = await client.request<Array<{ id: string }>>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [secret.id] } } });
  await client.request("POST", "/block_documents/", { name: "db-password", data: { value: "hunter2" }, block_type_id: secret.id, block_schema_id: schema!.id });
});

afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("baton block", () => {
  it("type ls lists the system types, protected", async () => {
    const result = await runCli(["block", "type", "ls"], env);
    expect(result.code).toBe(0);
    const secret = lines(result.stdout).find((l) => l.startsWith("secret "));
    expect(secret).toMatch(/^secret\s+Secret\s+yes/);
    expect(result.stdout).toMatch(/^string\s+String\s+no/m);
  });

  it("ls and inspect show the block with its secret obfuscated", async () => {
    const listed = await runCli(["block", "ls"], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout).toContain("secret/db-password");
    const inspected = await runCli(["block", "inspect", "secret/db-password"], env);
    expect(inspected.code).toBe(0);
    expect(inspected.stdout).toContain('"value": "********"');
    expect(inspected.stdout).not.toContain("hunter2");
    const json = await runCli(["block", "inspect", "secret/db-password", "--json"], env);
    expect((JSON.parse(json.stdout) as { data: unknown }).data).toEqual({ value: "********" });
  });

  it("bad input: a name without a slash exits 2, an unknown block exits 1 naming it", async () => {
    const bad = await runCli(["block", "inspect", "no-slash"], env);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("BLOCK-TYPE-SLUG/BLOCK-NAME");
    const unknown = await runCli(["block", "delete", "secret/nope"], env);
    expect(unknown.code).toBe(1);
    expect(lines(unknown.stderr)).toEqual(["error: Block secret/nope not found"]);
  });

  it("register-system reinstalls the types; delete removes the block", async () => {
    expect((await runCli(["block", "register-system"], env)).code).toBe(0);
    const deleted = await runCli(["block", "delete", "secret/db-password"], env);
    expect(deleted).toMatchObject({ code: 0, stdout: "Deleted block 'secret/db-password'.\n" });
    expect((await runCli(["block", "ls"], env)).stdout).toBe("No blocks found.\n");
  });
});
