import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { blockSchemaChecksum, ConflictError, ObjectNotFoundError, OBFUSCATED_SECRET, z } from "@baton/core";
import { startServer, type RunningServer } from "@baton/server";
import { BatonClient, configure, DateTimeBlock, defineBlock, JSONBlock, Secret, StringBlock } from "@baton/sdk";

/** A server of our own: its BATON_HOME (where the block encryption key file goes) is a temporary folder. */
async function startBlockServer(): Promise<{ server: RunningServer; client: BatonClient; close(): Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), "baton-sdk-blocks-"));
  const server = await startServer({ config: { port: 0, home: dir, databaseUrl: `sqlite:${join(dir, "baton.db")}`, logLevel: "silent" }, services: false });
  configure({ apiUrl: server.apiUrl, consoleLogs: false });
  return {
    server,
    client: new BatonClient({ apiUrl: server.apiUrl }),
    async close() {
      configure({ apiUrl: null, consoleLogs: null });
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

describe("blocks", () => {
  let t: Awaited<ReturnType<typeof startBlockServer>>;
  beforeAll(async () => {
    t = await startBlockServer();
  });
  afterAll(() => t.close());

  it("saves and loads a defined block, registering its type and schema once; the server obfuscates its secret", async () => {
    const Creds = defineBlock({ type: "sdk-creds", fields: z.object({ user: z.string(), password: z.string() }), secretFields: ["password"] });
    const id = await Creds.save("prod", { user: "ada", password: "s3cret" });
    expect(await Creds.load("prod")).toEqual({ user: "ada", password: "s3cret" });
    const raw = await t.client.request<{ data: Record<string, unknown>; block_schema: { fields: { secret_fields: string[] } } }>("GET", `/block_documents/${id}`);
    expect(raw.data).toEqual({ user: "ada", password: OBFUSCATED_SECRET });
    expect(raw.block_schema.fields.secret_fields).toEqual(["password"]);
    await Creds.save("staging", { user: "bob", password: "x" });
    const types = await t.client.request<Array<{ id: string }>>("POST", "/block_types/filter", { block_types: { slug: { any_: ["sdk-creds"] } } });
    expect(types).toHaveLength(1);
    const schemas = await t.client.request<Array<{ checksum: string }>>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [types[0]!.id] } } });
    expect(schemas.map((s) => s.checksum)).toEqual([blockSchemaChecksum(Creds.schemaFields)]);
  });

  it("refuses to overwrite unless asked, validates values, and reports unknown names", async () => {
    const Conf = defineBlock({ type: "sdk-conf", fields: z.object({ retries: z.number().int().min(0) }) });
    await Conf.save("a", { retries: 1 });
    await expect(Conf.save("a", { retries: 2 })).rejects.toBeInstanceOf(ConflictError);
    expect(await Conf.load("a")).toEqual({ retries: 1 });
    await Conf.save("a", { retries: 2 }, { overwrite: true });
    expect(await Conf.load("a")).toEqual({ retries: 2 });
    await expect(Conf.save("b", { retries: -1 })).rejects.toThrow(/retries/);
    await expect(Conf.load("missing")).rejects.toBeInstanceOf(ObjectNotFoundError);
    await Conf.delete("a");
    await expect(Conf.load("a")).rejects.toBeInstanceOf(ObjectNotFoundError);
    expect(() => defineBlock({ type: "Bad Slug", fields: z.object({}) })).toThrow(/lowercase/);
  });

  it("round-trips the system blocks through the schemas the server installed", async () => {
    await Secret.save("token", "tok-123");
    expect(await Secret.load("token")).toBe("tok-123");
    await JSONBlock.save("conf", { a: [1, 2], b: null });
    expect(await JSONBlock.load("conf")).toEqual({ a: [1, 2], b: null });
    await StringBlock.save("greeting", "hello");
    expect(await StringBlock.load("greeting")).toBe("hello");
    await DateTimeBlock.save("when", "2026-01-02T03:04:05+01:00");
    expect(await DateTimeBlock.load("when")).toBe("2026-01-02T02:04:05.000Z");
    const secretType = await t.client.request<{ id: string }>("GET", "/block_types/slug/secret");
    const schemas = await t.client.request<unknown[]>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [secretType.id] } } });
    expect(schemas).toHaveLength(1);
    const doc = await t.client.request<{ data: unknown }>("GET", "/block_types/slug/secret/block_documents/name/token");
    expect(doc.data).toEqual({ value: OBFUSCATED_SECRET });
  });
});
