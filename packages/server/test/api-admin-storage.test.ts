import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BlockDocument, BlockSchema, BlockType } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface Invalid {
  exception_message: string;
}

for (const dialect of DIALECTS) {
  describe(`admin/storage on ${dialect}`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    async function document(slug: string, name: string, data: Record<string, unknown>): Promise<BlockDocument> {
      const type = (await server.call<BlockType>("GET", `/block_types/slug/${slug}`)).body;
      const schemas = (await server.call<BlockSchema[]>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [type.id] } } })).body;
      const created = await server.call<BlockDocument>("POST", "/block_documents/", { name, data, block_type_id: type.id, block_schema_id: schemas[0]!.id });
      expect(created.status, JSON.stringify(created.body)).toBe(201);
      return created.body;
    }

    it("is unset at first; PUT sets a local-file-system or s3-bucket block; DELETE clears it", async () => {
      expect(await server.call("GET", "/admin/storage")).toEqual({ status: 200, body: { default_result_storage_block_id: null } });
      const local = await document("local-file-system", "results", { basepath: "/tmp/baton-results" });
      const put = await server.call("PUT", "/admin/storage", { default_result_storage_block_id: local.id });
      expect(put).toEqual({ status: 200, body: { default_result_storage_block_id: local.id } });
      expect((await server.call("GET", "/admin/storage")).body).toEqual({ default_result_storage_block_id: local.id });

      const s3 = await document("s3-bucket", "bucket", { bucket_name: "results", aws_secret_access_key: "shh" });
      expect((await server.call("PUT", "/admin/storage", { default_result_storage_block_id: s3.id })).status).toBe(200);
      expect((await server.call("GET", "/admin/storage")).body).toEqual({ default_result_storage_block_id: s3.id });

      expect((await server.call("DELETE", "/admin/storage")).status).toBe(204);
      expect((await server.call("GET", "/admin/storage")).body).toEqual({ default_result_storage_block_id: null });
      // Clearing twice is fine.
      expect((await server.call("DELETE", "/admin/storage")).status).toBe(204);
    });

    it("deleting the block document clears the default", async () => {
      const local = await document("local-file-system", "doomed", { basepath: "/tmp/doomed" });
      await server.call("PUT", "/admin/storage", { default_result_storage_block_id: local.id });
      expect((await server.call("DELETE", `/block_documents/${local.id}`)).status).toBe(204);
      expect((await server.call("GET", "/admin/storage")).body).toEqual({ default_result_storage_block_id: null });
    });

    it("refuses an unknown block (404), a block that cannot store results (422), and a bad body (422 naming the field)", async () => {
      const missing = "0192f6c4-8d2e-7c3b-9a41-5e8f2d1b6a70";
      const notFound = await server.call<{ detail: string }>("PUT", "/admin/storage", { default_result_storage_block_id: missing });
      expect(notFound.status).toBe(404);
      expect(notFound.body.detail).toBe(`Block document ${missing} not found`);

      const secret = await document("secret", "not-storage", { value: "x" });
      const wrong = await server.call<Invalid>("PUT", "/admin/storage", { default_result_storage_block_id: secret.id });
      expect(wrong.status).toBe(422);
      expect(wrong.body.exception_message).toContain(`body.default_result_storage_block_id: Block document ${secret.id} cannot be used for result storage`);

      const bad = await server.call<Invalid>("PUT", "/admin/storage", { default_result_storage_block_id: "nope" });
      expect(bad.status).toBe(422);
      expect(bad.body.exception_message).toMatch(/^Invalid request: body\.default_result_storage_block_id: /);
      const empty = await server.call<Invalid>("PUT", "/admin/storage", {});
      expect(empty.status).toBe(422);
      expect(empty.body.exception_message).toContain("body.default_result_storage_block_id");
      expect((await server.call("GET", "/admin/storage")).body).toEqual({ default_result_storage_block_id: null });
    });

    it("installs the result storage block types with the write-path capability", async () => {
      for (const slug of ["local-file-system", "s3-bucket"]) {
        const type = await server.call<BlockType>("GET", `/block_types/slug/${slug}`);
        expect(type.status).toBe(200);
        const schemas = (await server.call<BlockSchema[]>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [type.body.id] } } })).body;
        expect(schemas[0]?.capabilities).toContain("write-path");
      }
    });
  });
}
