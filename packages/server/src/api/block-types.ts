import {
  BlockDocument,
  BlockType,
  BlockTypeCreate,
  BlockTypeFilterBody,
  BlockTypeUpdate,
  ConflictError,
  ForbiddenError,
  IncludeSecretsQuery,
  ObjectNotFoundError,
} from "@baton/core";
import { z } from "zod";
import { installSystemBlockTypes } from "../blocks/system.js";
import { filterBlockDocuments, readBlockDocumentByName, type BlockStore } from "../db/queries/block-documents.js";
import { createBlockType, deleteBlockType, filterBlockTypes, readBlockType, readBlockTypeBySlug, updateBlockType } from "../db/queries/block-types.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

const SlugParams = z.object({ slug: z.string().min(1) });

export function registerBlockTypeRoutes({ router, db }: ApiContext, store: BlockStore): void {
  router.route({
    method: "POST",
    path: "/block_types/",
    tag: "Block types",
    summary: "Create a block type; names beginning with 'Prefect' are reserved (403), a taken name or slug is a 409",
    body: BlockTypeCreate,
    response: BlockType,
    status: 201,
    handler: async ({ body }) => {
      if (body.name.toLowerCase().startsWith("prefect")) throw new ForbiddenError("Block type names beginning with 'Prefect' are reserved.");
      const created = await createBlockType(db.kysely, body);
      if (!created) throw new ConflictError(`Block type with name "${body.name}" or slug "${body.slug}" already exists`);
      return created;
    },
  });
  router.route({
    method: "GET",
    path: "/block_types/{id}",
    tag: "Block types",
    summary: "Read a block type",
    params: IdParams,
    response: BlockType,
    handler: async ({ params }) => (await readBlockType(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "GET",
    path: "/block_types/slug/{slug}",
    tag: "Block types",
    summary: "Read a block type by slug",
    params: SlugParams,
    response: BlockType,
    handler: async ({ params }) => (await readBlockTypeBySlug(db.kysely, params.slug)) ?? notFound(params.slug),
  });
  router.route({
    method: "PATCH",
    path: "/block_types/{id}",
    tag: "Block types",
    summary: "Update a block type's descriptive fields",
    params: IdParams,
    body: BlockTypeUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await updateBlockType(db.kysely, params.id, body))) notFound(params.id);
    },
  });
  router.route({
    method: "DELETE",
    path: "/block_types/{id}",
    tag: "Block types",
    summary: "Delete a block type with its schemas and documents; protected (system) types are refused (403)",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      const blockType = (await readBlockType(db.kysely, params.id)) ?? notFound(params.id);
      if (blockType.is_protected) throw new ForbiddenError("protected block types cannot be deleted.");
      await deleteBlockType(db.kysely, params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/block_types/filter",
    tag: "Block types",
    summary: "Query block types, by name",
    body: BlockTypeFilterBody,
    response: z.array(BlockType),
    handler: ({ body }) => filterBlockTypes(db, body),
  });
  router.route({
    method: "GET",
    path: "/block_types/slug/{slug}/block_documents",
    tag: "Block types",
    summary: "The (named) block documents of a block type",
    params: SlugParams,
    query: IncludeSecretsQuery,
    response: z.array(BlockDocument),
    handler: async ({ params, query }) => {
      const blockType = (await readBlockTypeBySlug(db.kysely, params.slug)) ?? notFound(params.slug);
      return filterBlockDocuments(store, {
        block_documents: { operator: "and_", block_type_id: { any_: [blockType.id] }, is_anonymous: { eq_: false } },
        sort: "NAME_ASC",
        offset: 0,
        include_secrets: query.include_secrets,
      });
    },
  });
  router.route({
    method: "GET",
    path: "/block_types/slug/{slug}/block_documents/name/{block_document_name}",
    tag: "Block types",
    summary: "Read a block document by its type's slug and its name",
    params: z.object({ slug: z.string().min(1), block_document_name: z.string().min(1) }),
    query: IncludeSecretsQuery,
    response: BlockDocument,
    handler: async ({ params, query }) =>
      (await readBlockDocumentByName(store, params.slug, params.block_document_name, query.include_secrets)) ??
      (() => {
        throw new ObjectNotFoundError("Block document", params.block_document_name);
      })(),
  });
  router.route({
    method: "POST",
    path: "/block_types/install_system_block_types",
    tag: "Block types",
    summary: "Install (or refresh) the system block types: Secret, JSON, Date Time (protected) and String",
    handler: async () => {
      await installSystemBlockTypes(db);
      return null;
    },
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Block type", id);
}
