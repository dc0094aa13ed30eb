import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlockDocument, BlockSchema, BlockType } from "@baton/core";
import { configure, flow, LocalFileSystem, readStateResult, storageFromBlock, task, type ResultRecordMetadata } from "@baton/sdk";
import { startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let blockPath: string;
let otherPath: string;
beforeAll(async () => {
  t = await startTestServer();
  blockPath = mkdtempSync(join(tmpdir(), "baton-block-storage-"));
  otherPath = mkdtempSync(join(tmpdir(), "baton-other-storage-"));
});
afterAll(async () => {
  await t.close();
  rmSync(blockPath, { recursive: true, force: true });
  rmSync(otherPath, { recursive: true, force: true });
});

async function blockDocument(slug: string, name: string, data: Record<string, unknown>): Promise<BlockDocument> {
  const type = await t.client.request<BlockType>("GET", `/block_types/slug/${slug}`);
  const [schema] = await t.client.request<BlockSchema[]>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [type.id] } } });
  return t.client.request<BlockDocument>("POST", "/block_documents/", { name, data, block_type_id: type.id, block_schema_id: schema!.id });
}

describe("the server's default result storage (admin/storage)", () => {
  it("results go to the block the server names; the reference carries its id, so a reader with other local settings finds them", async () => {
    const doc = await blockDocument("local-file-system", "shared-results", { basepath: blockPath });
    await t.client.request("PUT", "/admin/storage", { default_result_storage_block_id: doc.id });

    const outcome = await flow({ name: "to-server-default", persistResult: true }, async function toServerDefault() {
      return task(function inner() {
        return "stored by block";
      })();
    }).run();
    const data = outcome.state.data as ResultRecordMetadata;
    expect(data.storage_block_id).toBe(doc.id);
    expect(existsSync(join(blockPath, data.storage_key))).toBe(true);

    // Another process whose own default storage is elsewhere still reads it, through the block.
    configure({ localStoragePath: otherPath });
    expect(await readStateResult(outcome.state, t.client)).toBe("stored by block");
  });

  it("storageFromBlock builds S3 storage from Baton's and prefect-aws's s3-bucket shapes, and refuses other types", () => {
    const base = { id: "d1", block_type: { slug: "s3-bucket" } } as unknown as BlockDocument;
    const own = storageFromBlock({ ...base, data: { bucket_name: "results", bucket_folder: "etl", endpoint_url: "http://127.0.0.1:9000" } });
    expect(own.describe()).toBe("s3://results/etl/");
    expect(own.blockDocumentId).toBe("d1");
    const prefectAws = storageFromBlock({
      ...base,
      data: { bucket_name: "results", credentials: { aws_access_key_id: "a", aws_secret_access_key: "b", aws_client_parameters: { endpoint_url: "http://127.0.0.1:9000" } } },
    });
    expect(prefectAws.describe()).toBe("s3://results/");
    const local = storageFromBlock({ id: "d2", block_type: { slug: "local-file-system" }, data: { basepath: blockPath } } as unknown as BlockDocument);
    expect(local).toBeInstanceOf(LocalFileSystem);
    expect(local.describe()).toBe(blockPath);
    expect(() => storageFromBlock({ id: "d3", block_type: { slug: "secret" }, data: {} } as unknown as BlockDocument)).toThrow(
      "result storage block: block document d3 is of type 'secret'",
    );
  });
});
