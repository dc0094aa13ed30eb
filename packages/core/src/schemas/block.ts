import { z } from "zod";
import { Id, JsonObject, Name } from "../primitives.js";
import { MAX_FILTER_LIMIT, MAX_FILTER_VALUES } from "./filters.js";
import { lazySchema } from "../lazy-schema.js";

/**
 * Blocks: typed, named configuration documents (credentials, settings) shared by flows, field
 * for field as the contract's `BlockType`, `BlockSchema`, `BlockDocument` and their bodies.
 * A block type (`secret`) has schemas (one per checksum and version of its fields), and
 * documents (`secret/db-password`) hold data that follows one of those schemas.
 */

/** What a document's secret fields look like when read without `include_secrets`. */
export const OBFUSCATED_SECRET = "********";

/** A slug as Prefect allows it: lower-case letters, digits and dashes. */
export const BlockTypeSlug = lazySchema(() =>
  z
    .string()
    .min(1, "must not be empty")
    .max(5000)
    .regex(/^[a-z0-9-]+$/, "must only contain lowercase letters, numbers, and dashes"));

const optionalText = lazySchema(() => z.string().max(100_000).nullish());

export const BlockType = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    slug: z.string(),
    logo_url: z.string().nullable(),
    documentation_url: z.string().nullable(),
    description: z.string().nullable(),
    code_example: z.string().nullable(),
    is_protected: z.boolean(),
  }));
export type BlockType = z.infer<typeof BlockType>;

export const BlockTypeCreate = lazySchema(() =>
  z.strictObject({
    name: Name,
    slug: BlockTypeSlug,
    logo_url: optionalText,
    documentation_url: optionalText,
    description: optionalText,
    code_example: optionalText,
  }));
export type BlockTypeCreate = z.infer<typeof BlockTypeCreate>;

export const BlockTypeUpdate = lazySchema(() =>
  z.strictObject({
    logo_url: optionalText,
    documentation_url: optionalText,
    description: optionalText,
    code_example: optionalText,
  }));
export type BlockTypeUpdate = z.infer<typeof BlockTypeUpdate>;

/** Prefect's version of a block schema whose author gave none. */
export const DEFAULT_BLOCK_SCHEMA_VERSION = "non-versioned";

const Capability = lazySchema(() => z.string().min(1, "must not be empty").max(500));

export const BlockSchema = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    checksum: z.string(),
    fields: JsonObject,
    block_type_id: Id.nullable(),
    block_type: BlockType.nullable(),
    capabilities: z.array(z.string()),
    version: z.string(),
  }));
export type BlockSchema = z.infer<typeof BlockSchema>;

export const BlockSchemaCreate = lazySchema(() =>
  z.strictObject({
    fields: JsonObject.default({}),
    block_type_id: Id,
    capabilities: z.array(Capability).max(100).default([]),
    version: z.string().min(1, "must not be empty").max(500).default(DEFAULT_BLOCK_SCHEMA_VERSION),
  }));
export type BlockSchemaCreate = z.infer<typeof BlockSchemaCreate>;

/** Data of a block document: a JSON object; a top-level `{"$ref": {"block_document_id": ...}}` refers to another document. */
export const BlockDocument = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string().nullable(),
    data: JsonObject,
    block_schema_id: Id,
    block_schema: BlockSchema.nullable(),
    block_type_id: Id,
    block_type_name: z.string().nullable(),
    block_type: BlockType.nullable(),
    block_document_references: z.record(z.string(), JsonObject),
    is_anonymous: z.boolean(),
  }));
export type BlockDocument = z.infer<typeof BlockDocument>;

export const BlockDocumentCreate = lazySchema(() =>
  z
    .strictObject({
      name: Name.nullish(),
      data: JsonObject.default({}),
      block_schema_id: Id,
      block_type_id: Id,
      is_anonymous: z.boolean().default(false),
    })
    .superRefine((body, ctx) => {
      if (!body.is_anonymous && !body.name) ctx.addIssue({ code: "custom", path: ["name"], message: "Names must be provided for block documents." });
    }));
export type BlockDocumentCreate = z.infer<typeof BlockDocumentCreate>;

export const BlockDocumentUpdate = lazySchema(() =>
  z.strictObject({
    block_schema_id: Id.nullish(),
    data: JsonObject.optional(),
    merge_existing_data: z.boolean().default(true),
  }));
export type BlockDocumentUpdate = z.infer<typeof BlockDocumentUpdate>;

const ids = lazySchema(() => z.array(Id).max(MAX_FILTER_VALUES).nullish());
const strings = lazySchema(() => z.array(z.string()).max(MAX_FILTER_VALUES).nullish());
const Operator = lazySchema(() => z.enum(["and_", "or_"]).default("and_"));
const limit = lazySchema(() => z.number().int().min(0).max(MAX_FILTER_LIMIT).nullish());
const offset = lazySchema(() => z.number().int().min(0).default(0));

export const BlockTypeFilter = lazySchema(() =>
  z.strictObject({
    name: z.strictObject({ like_: z.string().nullish() }).nullish(),
    slug: z.strictObject({ any_: strings }).nullish(),
  }));
export type BlockTypeFilter = z.infer<typeof BlockTypeFilter>;

export const BlockSchemaFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    block_type_id: z.strictObject({ any_: ids }).nullish(),
    block_capabilities: z.strictObject({ all_: strings }).nullish(),
    id: z.strictObject({ any_: ids }).nullish(),
    version: z.strictObject({ any_: strings }).nullish(),
  }));
export type BlockSchemaFilter = z.infer<typeof BlockSchemaFilter>;

export const BlockDocumentFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    id: z.strictObject({ any_: ids }).nullish(),
    // Absent means "not anonymous" (the contract's default); an explicit null means either.
    is_anonymous: z.strictObject({ eq_: z.boolean().nullish() }).nullish().transform((v) => (v === undefined ? { eq_: false } : v)),
    block_type_id: z.strictObject({ any_: ids }).nullish(),
    name: z.strictObject({ any_: strings, like_: z.string().nullish() }).nullish(),
  }));
export type BlockDocumentFilter = z.infer<typeof BlockDocumentFilter>;

export const BlockDocumentSort = lazySchema(() => z.enum(["NAME_DESC", "NAME_ASC", "BLOCK_TYPE_AND_NAME_ASC"]));
export type BlockDocumentSort = z.infer<typeof BlockDocumentSort>;

export const BlockTypeFilterBody = lazySchema(() =>
  z.strictObject({ block_types: BlockTypeFilter.nullish(), block_schemas: BlockSchemaFilter.nullish(), offset, limit }));
export type BlockTypeFilterBody = z.infer<typeof BlockTypeFilterBody>;

export const BlockSchemaFilterBody = lazySchema(() => z.strictObject({ block_schemas: BlockSchemaFilter.nullish(), offset, limit }));
export type BlockSchemaFilterBody = z.infer<typeof BlockSchemaFilterBody>;

export const BlockDocumentCountBody = lazySchema(() =>
  z.strictObject({
    block_documents: BlockDocumentFilter.nullish(),
    block_types: BlockTypeFilter.nullish(),
    block_schemas: BlockSchemaFilter.nullish(),
  }));
export type BlockDocumentCountBody = z.infer<typeof BlockDocumentCountBody>;

export const BlockDocumentFilterBody = lazySchema(() =>
  z.strictObject({
    block_documents: BlockDocumentFilter.nullish(),
    block_types: BlockTypeFilter.nullish(),
    block_schemas: BlockSchemaFilter.nullish(),
    include_secrets: z.boolean().default(false),
    sort: BlockDocumentSort.nullish().transform((v) => v ?? "NAME_ASC"),
    offset,
    limit,
  }));
export type BlockDocumentFilterBody = z.infer<typeof BlockDocumentFilterBody>;

/** `?include_secrets=true|false` (absent is false). */
export const IncludeSecretsQuery = lazySchema(() =>
  z.object({
    include_secrets: z
      .enum(["true", "false", "1", "0", "True", "False"])
      .optional()
      .transform((v) => v === "true" || v === "1" || v === "True"),
  }));
