import { BlockSchema, BlockSchemaCreate, BlockSchemaFilterBody, blockSchemaChecksum, ForbiddenError, ObjectNotFoundError } from "@baton/core";
import { z } from "zod";
import { createBlockSchema, deleteBlockSchema, filterBlockSchemas, readBlockSchema, readBlockSchemaByChecksum } from "../db/queries/block-schemas.js";
import { readBlockType } from "../db/queries/block-types.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

export function registerBlockSchemaRoutes({ router, db }: ApiContext): void {
  router.route({
    method: "POST",
    path: "/block_schemas/",
    tag: "Block schemas",
    summary: "Create a block schema; the same fields (checksum) and version return the existing one (200)",
    body: BlockSchemaCreate,
    response: BlockSchema,
    status: 201,
    handler: async ({ body, reply }) => {
      const blockType = await readBlockType(db.kysely, body.block_type_id);
      if (!blockType) throw new ObjectNotFoundError("Block type", body.block_type_id);
      const checksum = blockSchemaChecksum(body.fields);
      const existing = await readBlockSchemaByChecksum(db.kysely, checksum, body.version);
      if (existing) {
        reply.code(200);
        return existing;
      }
      if (blockType.is_protected) throw new ForbiddenError("Block schemas for protected block types cannot be created.");
      const { schema, created } = await createBlockSchema(db.kysely, { ...body, checksum });
      if (!created) reply.code(200);
      return schema;
    },
  });
  router.route({
    method: "GET",
    path: "/block_schemas/{id}",
    tag: "Block schemas",
    summary: "Read a block schema",
    params: IdParams,
    response: BlockSchema,
    handler: async ({ params }) => (await readBlockSchema(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "GET",
    path: "/block_schemas/checksum/{checksum}",
    tag: "Block schemas",
    summary: "Read a block schema by checksum (of a version, or the newest)",
    params: z.object({ checksum: z.string().min(1) }),
    query: z.object({ version: z.string().min(1).optional() }),
    response: BlockSchema,
    handler: async ({ params, query }) => (await readBlockSchemaByChecksum(db.kysely, params.checksum, query.version)) ?? notFound(params.checksum),
  });
  router.route({
    method: "DELETE",
    path: "/block_schemas/{id}",
    tag: "Block schemas",
    summary: "Delete a block schema with its documents; schemas of protected types are refused (403)",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      const schema = (await readBlockSchema(db.kysely, params.id)) ?? notFound(params.id);
      if (schema.block_type?.is_protected) throw new ForbiddenError("Block schemas for protected block types cannot be deleted.");
      await deleteBlockSchema(db.kysely, params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/block_schemas/filter",
    tag: "Block schemas",
    summary: "Query block schemas (by block type, capabilities, version), newest first",
    body: BlockSchemaFilterBody,
    response: z.array(BlockSchema),
    handler: ({ body }) => filterBlockSchemas(db, body),
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Block schema", id);
}
