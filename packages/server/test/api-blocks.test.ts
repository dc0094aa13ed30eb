import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { blockSchemaChecksum, OBFUSCATED_SECRET, type BlockDocument, type BlockSchema, type BlockType } from "@baton/core";
import { startServer, type RunningServer } from "@baton/server";
import { DIALECTS, POSTGRES_URL, type DialectName } from "./harness.js";

/**
 * Blocks on both dialects. Servers are started here rather than by the harness because each
 * needs its own BATON_HOME (the encryption key file lives there) and some are restarted on
 * the same database.
 */
interface BlockServer {
  server: RunningServer;
  call<T = unknown>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }>;
}

let counter = 0;

async function start(database: { url: string; schema?: string }, home: string, encryptionKey?: string): Promise<BlockServer> {
  const server = await startServer({
    config: { port: 0, host: "127.0.0.1", home, databaseUrl: database.url, databaseSchema: database.schema, logLevel: "silent", encryptionKey },
    services: false,
  });
  return {
    server,
    call: async <T>(method: string, path: string, body?: unknown) => {
      const response = await fetch(`${server.apiUrl}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await response.text();
      return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
    },
  };
}

function newDatabase(dialect: DialectName, dir: string): { url: string; schema?: string } {
  if (dialect === "sqlite") return { url: `sqlite:${join(dir, "baton.db")}` };
  return { url: POSTGRES_URL, schema: `t_blocks_${process.pid}_${Date.now().toString(36)}_${counter++}` };
}

async function dropDatabase(database: { schema?: string }): Promise<void> {
  if (!database.schema) return;
  const client = new pg.Client({ connectionString: POSTGRES_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${database.schema}" CASCADE`);
  } finally {
    await client.end();
  }
}

const CREDS_FIELDS = {
  title: "Creds",
  type: "object",
  properties: { user: { type: "string" }, password: { type: "string" }, auth: { type: "object" }, headers: { type: "object" } },
  secret_fields: ["password", "auth.token", "headers.*"],
};

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let dir: string;
    let database: { url: string; schema?: string };
    let api: BlockServer;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "baton-blocks-"));
      database = newDatabase(dialect, dir);
      api = await start(database, join(dir, "home"));
    });
    afterAll(async () => {
      await api.server.close();
      await dropDatabase(database);
      rmSync(dir, { recursive: true, force: true });
    });

    async function createType(slug: string, extra: Record<string, unknown> = {}): Promise<BlockType> {
      const { status, body } = await api.call<BlockType>("POST", "/block_types/", { name: `Type ${slug}`, slug, ...extra });
      expect(status).toBe(201);
      return body;
    }
    async function createSchema(blockTypeId: string, fields: Record<string, unknown> = CREDS_FIELDS, extra: Record<string, unknown> = {}): Promise<BlockSchema> {
      const { status, body } = await api.call<BlockSchema>("POST", "/block_schemas/", { block_type_id: blockTypeId, fields, ...extra });
      expect(status).toBe(201);
      return body;
    }
    async function setup(slug: string): Promise<{ type: BlockType; schema: BlockSchema }> {
      const type = await createType(slug);
      return { type, schema: await createSchema(type.id, { ...CREDS_FIELDS, title: slug }) };
    }
    async function createDocument(type: BlockType, schema: BlockSchema, name: string | null, data: Record<string, unknown>, extra: Record<string, unknown> = {}) {
      return api.call<BlockDocument>("POST", "/block_documents/", { name, data, block_type_id: type.id, block_schema_id: schema.id, ...extra });
    }

    describe("block types", () => {
      it("creates, reads by id and slug, updates and deletes", async () => {
        const type = await createType("crud-type", { description: "first", logo_url: "https://logo" });
        expect(type).toMatchObject({ name: "Type crud-type", slug: "crud-type", description: "first", logo_url: "https://logo", is_protected: false, code_example: null });
        expect((await api.call("GET", `/block_types/${type.id}`)).body).toEqual(type);
        expect((await api.call("GET", "/block_types/slug/crud-type")).body).toEqual(type);
        expect((await api.call("PATCH", `/block_types/${type.id}`, { description: "second" })).status).toBe(204);
        const updated = await api.call<BlockType>("GET", `/block_types/${type.id}`);
        expect(updated.body.description).toBe("second");
        expect(updated.body.logo_url).toBe("https://logo");
        expect((await api.call("DELETE", `/block_types/${type.id}`)).status).toBe(204);
        expect((await api.call("GET", `/block_types/${type.id}`)).status).toBe(404);
      });

      it("refuses duplicates (409), reserved names (403), bad input (422) and unknown ids (404)", async () => {
        await createType("dup-type");
        const dupName = await api.call<{ detail: string }>("POST", "/block_types/", { name: "Type dup-type", slug: "other-slug" });
        expect(dupName.status).toBe(409);
        const dupSlug = await api.call("POST", "/block_types/", { name: "Another", slug: "dup-type" });
        expect(dupSlug.status).toBe(409);
        const reserved = await api.call<{ detail: string }>("POST", "/block_types/", { name: "Prefect Thing", slug: "prefect-thing" });
        expect(reserved.status).toBe(403);
        expect(reserved.body.detail).toMatch(/reserved/);
        const badSlug = await api.call<{ exception_message: string }>("POST", "/block_types/", { name: "Bad", slug: "Bad Slug" });
        expect(badSlug.status).toBe(422);
        expect(badSlug.body.exception_message).toContain("body.slug");
        const badName = await api.call<{ exception_message: string }>("POST", "/block_types/", { name: 42, slug: "x" });
        expect(badName.status).toBe(422);
        expect(badName.body.exception_message).toContain("body.name");
        const unknownField = await api.call<{ exception_message: string }>("PATCH", `/block_types/${crypto.randomUUID()}`, { name: "x" });
        expect(unknownField.status).toBe(422);
        const unknown = crypto.randomUUID();
        expect((await api.call("GET", `/block_types/${unknown}`)).status).toBe(404);
        expect((await api.call("GET", "/block_types/slug/no-such-type")).status).toBe(404);
        expect((await api.call("PATCH", `/block_types/${unknown}`, { description: "x" })).status).toBe(404);
        expect((await api.call("DELETE", `/block_types/${unknown}`)).status).toBe(404);
        const badId = await api.call<{ exception_message: string }>("GET", "/block_types/not-a-uuid");
        expect(badId.status).toBe(422);
        expect(badId.body.exception_message).toContain("path.id");
      });

      it("installs the system block types, protected, with a schema each, and refuses to delete them", async () => {
        const again = await api.call("POST", "/block_types/install_system_block_types");
        expect(again.status).toBe(200);
        const types = await api.call<BlockType[]>("POST", "/block_types/filter", { block_types: { slug: { any_: ["secret", "json", "date-time", "string"] } } });
        expect(types.body.map((t) => [t.slug, t.is_protected])).toEqual([
          ["date-time", true],
          ["json", true],
          ["secret", true],
          ["string", false],
        ]);
        const secret = types.body.find((t) => t.slug === "secret")!;
        const schemas = await api.call<BlockSchema[]>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [secret.id] } } });
        expect(schemas.body).toHaveLength(1);
        expect(schemas.body[0]!.fields.secret_fields).toEqual(["value"]);
        expect(schemas.body[0]!.checksum).toBe(blockSchemaChecksum(schemas.body[0]!.fields));
        const refused = await api.call<{ detail: string }>("DELETE", `/block_types/${secret.id}`);
        expect(refused.status).toBe(403);
        expect(refused.body.detail).toMatch(/protected/);
        expect((await api.call("DELETE", `/block_schemas/${schemas.body[0]!.id}`)).status).toBe(403);
        const other = await api.call("POST", "/block_schemas/", { block_type_id: secret.id, fields: { title: "not the system one" } });
        expect(other.status).toBe(403);
      });

      it("filters by name, slug and by their schemas' capabilities, with limit and offset", async () => {
        const a = await createType("filter-alpha");
        const b = await createType("filter-beta");
        await createSchema(a.id, { title: "fa" }, { capabilities: ["read", "write"] });
        await createSchema(b.id, { title: "fb" }, { capabilities: ["read"] });
        const byName = await api.call<BlockType[]>("POST", "/block_types/filter", { block_types: { name: { like_: "FILTER-" } } });
        expect(byName.body.map((t) => t.slug)).toEqual(["filter-alpha", "filter-beta"]);
        const byCapability = await api.call<BlockType[]>("POST", "/block_types/filter", {
          block_types: { name: { like_: "filter-" } },
          block_schemas: { block_capabilities: { all_: ["read", "write"] } },
        });
        expect(byCapability.body.map((t) => t.slug)).toEqual(["filter-alpha"]);
        const paged = await api.call<BlockType[]>("POST", "/block_types/filter", { block_types: { name: { like_: "filter-" } }, limit: 1, offset: 1 });
        expect(paged.body.map((t) => t.slug)).toEqual(["filter-beta"]);
        expect((await api.call("POST", "/block_types/filter", { limit: -1 })).status).toBe(422);
        expect((await api.call("POST", "/block_types/filter", { block_types: { nme: {} } })).status).toBe(422);
      });
    });

    describe("block schemas", () => {
      it("creates with Prefect's checksum, idempotent by checksum and version (200), reads by id and checksum", async () => {
        const type = await createType("schema-type");
        const fields = { title: "S", type: "object", properties: { a: { type: "string" } } };
        const first = await createSchema(type.id, fields, { capabilities: ["cap-x"] });
        // Prefect's own checksum of these fields, from Python: json.dumps(((fields,), {}), sort_keys=True) through SHA-256.
        expect(first.checksum).toBe("sha256:48777eb01d7d3e9f049dbe9619de38d665c1e58c9ed6b7ae5a9a5ef805480554");
        expect(first).toMatchObject({ block_type_id: type.id, capabilities: ["cap-x"], version: "non-versioned", fields });
        expect(first.block_type?.slug).toBe("schema-type");
        const again = await api.call<BlockSchema>("POST", "/block_schemas/", { block_type_id: type.id, fields, capabilities: ["cap-x"] });
        expect(again.status).toBe(200);
        expect(again.body.id).toBe(first.id);
        const v2 = await api.call<BlockSchema>("POST", "/block_schemas/", { block_type_id: type.id, fields, version: "2.0.0" });
        expect(v2.status).toBe(201);
        expect(v2.body.id).not.toBe(first.id);
        expect((await api.call("GET", `/block_schemas/${first.id}`)).body).toEqual(first);
        const byChecksum = await api.call<BlockSchema>("GET", `/block_schemas/checksum/${encodeURIComponent(first.checksum)}?version=non-versioned`);
        expect(byChecksum.body.id).toBe(first.id);
        const newest = await api.call<BlockSchema>("GET", `/block_schemas/checksum/${encodeURIComponent(first.checksum)}`);
        expect(newest.body.id).toBe(v2.body.id);
        expect((await api.call("GET", `/block_schemas/checksum/${encodeURIComponent(first.checksum)}?version=9.9`)).status).toBe(404);
        const capabilities = await api.call<string[]>("GET", "/block_capabilities/");
        expect(capabilities.body).toContain("cap-x");
        expect([...capabilities.body].sort()).toEqual(capabilities.body);
        expect((await api.call("DELETE", `/block_schemas/${v2.body.id}`)).status).toBe(204);
        expect((await api.call("GET", `/block_schemas/${v2.body.id}`)).status).toBe(404);
        expect((await api.call("DELETE", `/block_schemas/${v2.body.id}`)).status).toBe(404);
      });

      it("filters by block type, capabilities and version; refuses bad input", async () => {
        const type = await createType("schema-filter");
        const s1 = await createSchema(type.id, { title: "one" }, { capabilities: ["c1", "c2"], version: "1" });
        const s2 = await createSchema(type.id, { title: "two" }, { capabilities: ["c1"], version: "2" });
        const ids = async (filter: Record<string, unknown>) =>
          (await api.call<BlockSchema[]>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [type.id] }, ...filter } })).body.map((s) => s.id);
        expect(await ids({})).toEqual([s2.id, s1.id]);
        expect(await ids({ block_capabilities: { all_: ["c1", "c2"] } })).toEqual([s1.id]);
        expect(await ids({ version: { any_: ["2"] } })).toEqual([s2.id]);
        expect(await ids({ id: { any_: [s1.id] } })).toEqual([s1.id]);
        const unknownType = await api.call("POST", "/block_schemas/", { block_type_id: crypto.randomUUID(), fields: {} });
        expect(unknownType.status).toBe(404);
        const badFields = await api.call<{ exception_message: string }>("POST", "/block_schemas/", { block_type_id: type.id, fields: [1] });
        expect(badFields.status).toBe(422);
        expect(badFields.body.exception_message).toContain("body.fields");
        const badCaps = await api.call<{ exception_message: string }>("POST", "/block_schemas/", { block_type_id: type.id, capabilities: "c1" });
        expect(badCaps.body.exception_message).toContain("body.capabilities");
        expect((await api.call("GET", `/block_schemas/${crypto.randomUUID()}`)).status).toBe(404);
      });
    });

    describe("block documents", () => {
      it("creates, reads (secrets obfuscated unless include_secrets), by slug and name, and lists a type's documents", async () => {
        const { type, schema } = await setup("doc-crud");
        const data = { user: "ada", password: "hunter2", auth: { token: "tok-1", scheme: "bearer" }, headers: { "x-key": "k1", "x-other": "k2" } };
        const created = await createDocument(type, schema, "prod", data);
        expect(created.status).toBe(201);
        expect(created.body).toMatchObject({ name: "prod", block_type_id: type.id, block_schema_id: schema.id, block_type_name: type.name, is_anonymous: false, block_document_references: {} });
        const hidden = {
          user: "ada",
          password: OBFUSCATED_SECRET,
          auth: { token: OBFUSCATED_SECRET, scheme: "bearer" },
          headers: { "x-key": OBFUSCATED_SECRET, "x-other": OBFUSCATED_SECRET },
        };
        expect(created.body.data).toEqual(hidden);
        expect(created.body.block_schema?.id).toBe(schema.id);
        expect(created.body.block_type?.slug).toBe("doc-crud");
        const read = await api.call<BlockDocument>("GET", `/block_documents/${created.body.id}`);
        expect(read.body.data).toEqual(hidden);
        const withSecrets = await api.call<BlockDocument>("GET", `/block_documents/${created.body.id}?include_secrets=true`);
        expect(withSecrets.body.data).toEqual(data);
        const byName = await api.call<BlockDocument>("GET", "/block_types/slug/doc-crud/block_documents/name/prod?include_secrets=true");
        expect(byName.body.data).toEqual(data);
        expect((await api.call<BlockDocument>("GET", "/block_types/slug/doc-crud/block_documents/name/prod")).body.data).toEqual(hidden);
        const listed = await api.call<BlockDocument[]>("GET", "/block_types/slug/doc-crud/block_documents");
        expect(listed.body.map((d) => [d.name, d.data.password])).toEqual([["prod", OBFUSCATED_SECRET]]);
        expect((await api.call("GET", "/block_types/slug/doc-crud/block_documents/name/nope")).status).toBe(404);
        expect((await api.call("GET", "/block_types/slug/no-type/block_documents")).status).toBe(404);
        const badQuery = await api.call<{ exception_message: string }>("GET", `/block_documents/${created.body.id}?include_secrets=maybe`);
        expect(badQuery.status).toBe(422);
        expect(badQuery.body.exception_message).toContain("query.include_secrets");
      });

      it("stores the data encrypted: a raw SELECT of the table shows no secret", async () => {
        const { type, schema } = await setup("doc-raw");
        const created = await createDocument(type, schema, "raw", { user: "plain-user-7", password: "sup3r-s3cret-value" });
        const rows = await api.server.db.kysely.selectFrom("block_document").selectAll().where("id", "=", created.body.id).execute();
        const dump = JSON.stringify(rows);
        expect(rows).toHaveLength(1);
        expect(dump).not.toContain("sup3r-s3cret-value");
        expect(dump).not.toContain("plain-user-7");
        expect(rows[0]!.data).toMatch(/^aes-256-gcm:/);
      });

      it("refuses duplicates (409), nameless documents, unknown type or schema, mismatched schema, bad input", async () => {
        const { type, schema } = await setup("doc-bad");
        expect((await createDocument(type, schema, "dup", { user: "a" })).status).toBe(201);
        const dup = await createDocument(type, schema, "dup", { user: "b" });
        expect(dup.status).toBe(409);
        const nameless = await api.call<{ exception_message: string }>("POST", "/block_documents/", { data: {}, block_type_id: type.id, block_schema_id: schema.id });
        expect(nameless.status).toBe(422);
        expect(nameless.body.exception_message).toContain("body.name");
        const badName = await createDocument(type, schema, "a/b", {});
        expect(badName.status).toBe(422);
        expect((await createDocument({ ...type, id: crypto.randomUUID() }, schema, "x", {})).status).toBe(404);
        expect((await createDocument(type, { ...schema, id: crypto.randomUUID() }, "x", {})).status).toBe(404);
        const other = await setup("doc-bad-other");
        const mismatch = await api.call<{ exception_message: string }>("POST", "/block_documents/", { name: "m", data: {}, block_type_id: type.id, block_schema_id: other.schema.id });
        expect(mismatch.status).toBe(422);
        expect(mismatch.body.exception_message).toContain("body.block_schema_id");
        const badData = await api.call<{ exception_message: string }>("POST", "/block_documents/", { name: "d", data: "x", block_type_id: type.id, block_schema_id: schema.id });
        expect(badData.status).toBe(422);
        expect(badData.body.exception_message).toContain("body.data");
        const danglingRef = await createDocument(type, schema, "ref", { inner: { $ref: { block_document_id: crypto.randomUUID() } } });
        expect(danglingRef.status).toBe(422);
        const unknown = crypto.randomUUID();
        expect((await api.call("GET", `/block_documents/${unknown}`)).status).toBe(404);
        expect((await api.call("PATCH", `/block_documents/${unknown}`, { data: {} })).status).toBe(404);
        expect((await api.call("DELETE", `/block_documents/${unknown}`)).status).toBe(404);
        expect((await api.call("PATCH", `/block_documents/${unknown}`, { merge_existing_data: "yes" })).status).toBe(422);
      });

      it("updates: merges by default, replaces without merge_existing_data, keeps secrets sent back obfuscated", async () => {
        const { type, schema } = await setup("doc-update");
        const created = await createDocument(type, schema, "u", { user: "ada", password: "pw-1", auth: { token: "t-1" }, headers: { h: "v-1" } });
        const id = created.body.id;
        const secrets = async () => (await api.call<BlockDocument>("GET", `/block_documents/${id}?include_secrets=true`)).body.data;
        // A client that read the document without secrets and saves it whole.
        const obfuscated = (await api.call<BlockDocument>("GET", `/block_documents/${id}`)).body.data;
        expect((await api.call("PATCH", `/block_documents/${id}`, { data: { ...obfuscated, user: "grace" } })).status).toBe(204);
        expect(await secrets()).toEqual({ user: "grace", password: "pw-1", auth: { token: "t-1" }, headers: { h: "v-1" } });
        await api.call("PATCH", `/block_documents/${id}`, { data: { password: "pw-2" } });
        expect(await secrets()).toEqual({ user: "grace", password: "pw-2", auth: { token: "t-1" }, headers: { h: "v-1" } });
        await api.call("PATCH", `/block_documents/${id}`, { data: { user: "only" }, merge_existing_data: false });
        expect(await secrets()).toEqual({ user: "only" });
        const v2 = await createSchema(type.id, { ...CREDS_FIELDS, title: "doc-update v2" });
        await api.call("PATCH", `/block_documents/${id}`, { block_schema_id: v2.id });
        expect((await api.call<BlockDocument>("GET", `/block_documents/${id}`)).body.block_schema_id).toBe(v2.id);
        const other = await setup("doc-update-other");
        expect((await api.call("PATCH", `/block_documents/${id}`, { block_schema_id: other.schema.id })).status).toBe(422);
      });

      it("references other documents: their data is nested, their secrets obfuscated", async () => {
        const { type, schema } = await setup("doc-refs");
        const child = await createDocument(type, schema, "child", { user: "c", password: "child-pw" });
        const parent = await createDocument(type, schema, "parent", { user: "p", creds: { $ref: { block_document_id: child.body.id } } });
        expect(parent.status).toBe(201);
        expect(parent.body.data).toEqual({ user: "p", creds: { user: "c", password: OBFUSCATED_SECRET } });
        expect(parent.body.block_document_references.creds).toMatchObject({ block_document: { id: child.body.id, name: "child", is_anonymous: false } });
        const full = await api.call<BlockDocument>("GET", `/block_documents/${parent.body.id}?include_secrets=true`);
        expect(full.body.data.creds).toEqual({ user: "c", password: "child-pw" });
        await api.call("DELETE", `/block_documents/${child.body.id}`);
        const after = await api.call<BlockDocument>("GET", `/block_documents/${parent.body.id}`);
        expect(after.body.data).toEqual({ user: "p" });
      });

      it("filters and counts, leaving anonymous documents out unless asked for, sorted", async () => {
        const { type, schema } = await setup("doc-filter");
        for (const name of ["b-doc", "a-doc", "c-doc"]) await createDocument(type, schema, name, { password: `pw-${name}` });
        const anonymous = await createDocument(type, schema, null, { user: "anon" }, { is_anonymous: true });
        expect(anonymous.status).toBe(201);
        expect(anonymous.body.name).toMatch(/^anonymous-/);
        const mine = { block_type_id: { any_: [type.id] } };
        const names = async (body: Record<string, unknown>) => (await api.call<BlockDocument[]>("POST", "/block_documents/filter", body)).body.map((d) => d.name);
        expect(await names({ block_documents: mine })).toEqual(["a-doc", "b-doc", "c-doc"]);
        expect(await names({ block_documents: mine, sort: "NAME_DESC", limit: 2 })).toEqual(["c-doc", "b-doc"]);
        expect(await names({ block_documents: { ...mine, is_anonymous: null } })).toHaveLength(4);
        expect(await names({ block_documents: { ...mine, name: { like_: "b-" } } })).toEqual(["b-doc"]);
        expect(await names({ block_types: { slug: { any_: ["doc-filter"] } } })).toEqual(["a-doc", "b-doc", "c-doc"]);
        expect(await names({ block_documents: mine, block_schemas: { id: { any_: [crypto.randomUUID()] } } })).toEqual([]);
        const filtered = await api.call<BlockDocument[]>("POST", "/block_documents/filter", { block_documents: { ...mine, name: { any_: ["a-doc"] } }, include_secrets: true });
        expect(filtered.body[0]!.data).toEqual({ password: "pw-a-doc" });
        const hidden = await api.call<BlockDocument[]>("POST", "/block_documents/filter", { block_documents: { ...mine, name: { any_: ["a-doc"] } } });
        expect(hidden.body[0]!.data).toEqual({ password: OBFUSCATED_SECRET });
        expect((await api.call<number>("POST", "/block_documents/count", { block_documents: mine })).body).toBe(3);
        expect((await api.call<number>("POST", "/block_documents/count", { block_documents: { ...mine, is_anonymous: { eq_: true } } })).body).toBe(1);
        const badSort = await api.call<{ exception_message: string }>("POST", "/block_documents/filter", { sort: "SIDEWAYS" });
        expect(badSort.status).toBe(422);
        expect(badSort.body.exception_message).toContain("body.sort");
      });
    });

    describe("encryption key", () => {
      it("creates the key file once (mode 0600) and reads it back after a restart; the secret is still readable", async () => {
        const { type, schema } = await setup("doc-restart");
        const created = await createDocument(type, schema, "kept", { password: "survives-restarts" });
        const keyFile = join(dir, "home", "encryption.key");
        const key = readFileSync(keyFile, "utf8");
        expect(statSync(keyFile).mode & 0o777).toBe(0o600);
        await api.server.close();
        api = await start(database, join(dir, "home"));
        expect(readFileSync(keyFile, "utf8")).toBe(key);
        const read = await api.call<BlockDocument>("GET", `/block_documents/${created.body.id}?include_secrets=true`);
        expect(read.body.data).toEqual({ password: "survives-restarts" });
      });

      it("uses BATON_SERVER_ENCRYPTION_KEY when set, and creates no key file", async () => {
        const otherDir = mkdtempSync(join(tmpdir(), "baton-blocks-key-"));
        const otherDatabase = newDatabase(dialect, otherDir);
        const key = Buffer.alloc(32, 7).toString("base64");
        let other = await start(otherDatabase, join(otherDir, "home"), key);
        try {
          const type = (await other.call<BlockType>("POST", "/block_types/", { name: "K", slug: "k" })).body;
          const schema = (await other.call<BlockSchema>("POST", "/block_schemas/", { block_type_id: type.id, fields: CREDS_FIELDS })).body;
          const doc = await other.call<BlockDocument>("POST", "/block_documents/", { name: "k", data: { password: "p" }, block_type_id: type.id, block_schema_id: schema.id });
          expect(() => statSync(join(otherDir, "home", "encryption.key"))).toThrow();
          await other.server.close();
          other = await start(otherDatabase, join(otherDir, "home"), key);
          expect((await other.call<BlockDocument>("GET", `/block_documents/${doc.body.id}?include_secrets=true`)).body.data).toEqual({ password: "p" });
        } finally {
          await other.server.close();
          await dropDatabase(otherDatabase);
          rmSync(otherDir, { recursive: true, force: true });
        }
      });
    });
  });
}
