import {
  ApiError,
  blockSchemaChecksum,
  ConflictError,
  DEFAULT_BLOCK_SCHEMA_VERSION,
  ObjectNotFoundError,
  type BlockDocument,
  type BlockSchema,
  type BlockType,
  z,
} from "@baton/core";
import type { ZodType } from "zod";
import type { BatonClient } from "../client.js";
import { openSession } from "../ephemeral.js";

export interface BlockSpec<T> {
  /** The block type's slug: lower-case letters, digits and dashes (`my-creds`). */
  type: string;
  /** The block type's display name (default: the slug). */
  name?: string;
  description?: string;
  /** Validates a document's data on save and on load. */
  fields: ZodType<T>;
  /** Dotted paths into the data that are secret (`password`, `auth.token`, `headers.*`). */
  secretFields?: string[];
  capabilities?: string[];
  version?: string;
  /** The schema's JSON Schema; by default derived from `fields`. */
  jsonSchema?: Record<string, unknown>;
}

export interface SaveOptions {
  /** Replace a document of that name instead of failing with a ConflictError. */
  overwrite?: boolean;
}

export interface BlockDefinition<T> {
  readonly slug: string;
  /** The block schema's `fields` as registered with the server (its checksum is Prefect's). */
  readonly schemaFields: Record<string, unknown>;
  /** The document's data, secrets in clear, validated by `fields`. */
  load(name: string): Promise<T>;
  /** Stores `value` as document `name`; registers the type and schema first. Returns the document id. */
  save(name: string, value: T, options?: SaveOptions): Promise<string>;
  delete(name: string): Promise<void>;
}

/**
 * A kind of block: typed configuration stored on the server, secrets encrypted there and never
 * shown in clear to readers that do not ask for them.
 *
 * @example
 * const Creds = defineBlock({ type: "db-creds", fields: z.object({ user: z.string(), password: z.string() }), secretFields: ["password"] });
 * await Creds.save("prod", { user: "ada", password: "s3cret" }, { overwrite: true });
 * const { password } = await Creds.load("prod");
 */
export function defineBlock<T>(spec: BlockSpec<T>): BlockDefinition<T> {
  const slug = z
    .string()
    .regex(/^[a-z0-9-]+$/, "a block type must only contain lowercase letters, numbers, and dashes")
    .parse(spec.type);
  const schemaFields = spec.jsonSchema ?? {
    ...(z.toJSONSchema(spec.fields, { unrepresentable: "any" }) as Record<string, unknown>),
    title: spec.name ?? slug,
    block_type_slug: slug,
    secret_fields: spec.secretFields ?? [],
    block_schema_references: {},
  };
  delete schemaFields.$schema;
  const version = spec.version ?? DEFAULT_BLOCK_SCHEMA_VERSION;
  const documentPath = (name: string) => `/block_types/slug/${encodeURIComponent(slug)}/block_documents/name/${encodeURIComponent(name)}`;

  async function register(client: BatonClient): Promise<{ type: BlockType; schema: BlockSchema }> {
    let type = await readOrUndefined<BlockType>(client, `/block_types/slug/${slug}`);
    if (!type) {
      try {
        type = await client.request<BlockType>("POST", "/block_types/", { name: spec.name ?? slug, slug, description: spec.description ?? null });
      } catch (error) {
        // Another process registered it meanwhile.
        if (!(error instanceof ApiError && error.status === 409)) throw error;
        type = await client.request<BlockType>("GET", `/block_types/slug/${slug}`);
      }
    }
    const checksum = blockSchemaChecksum(schemaFields);
    const schema =
      (await readOrUndefined<BlockSchema>(client, `/block_schemas/checksum/${encodeURIComponent(checksum)}?version=${encodeURIComponent(version)}`)) ??
      (await client.request<BlockSchema>("POST", "/block_schemas/", { block_type_id: type.id, fields: schemaFields, capabilities: spec.capabilities ?? [], version }));
    return { type, schema };
  }

  return {
    slug,
    schemaFields,
    load: (name) =>
      withClient(async (client) => {
        const document = await readOrUndefined<BlockDocument>(client, `${documentPath(name)}?include_secrets=true`);
        if (!document) throw new ObjectNotFoundError("Block document", `${slug}/${name}`);
        return spec.fields.parse(document.data);
      }),
    save: (name, value, options = {}) =>
      withClient(async (client) => {
        const data = spec.fields.parse(value) as Record<string, unknown>;
        const { type, schema } = await register(client);
        const existing = await readOrUndefined<BlockDocument>(client, documentPath(name));
        if (existing) {
          if (!options.overwrite) throw new ConflictError(`Block document "${slug}/${name}" already exists; pass { overwrite: true } to replace it`);
          await client.request("PATCH", `/block_documents/${existing.id}`, { data, block_schema_id: schema.id, merge_existing_data: false });
          return existing.id;
        }
        const created = await client.request<BlockDocument>("POST", "/block_documents/", { name, data, block_type_id: type.id, block_schema_id: schema.id });
        return created.id;
      }),
    delete: (name) =>
      withClient(async (client) => {
        const document = await readOrUndefined<BlockDocument>(client, documentPath(name));
        if (!document) throw new ObjectNotFoundError("Block document", `${slug}/${name}`);
        await client.request("DELETE", `/block_documents/${document.id}`);
      }),
  };
}

async function withClient<R>(fn: (client: BatonClient) => Promise<R>): Promise<R> {
  const session = await openSession();
  try {
    return await fn(session.client);
  } finally {
    await session.release();
  }
}

async function readOrUndefined<T>(client: BatonClient, path: string): Promise<T | undefined> {
  try {
    return await client.request<T>("GET", path);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}
