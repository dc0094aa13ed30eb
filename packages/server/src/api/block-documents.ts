import {
  BlockDocument,
  BlockDocumentCountBody,
  BlockDocumentCreate,
  BlockDocumentFilterBody,
  BlockDocumentUpdate,
  IncludeSecretsQuery,
  ObjectNotFoundError,
} from "@baton/core";
import { z } from "zod";
import {
  countBlockDocuments,
  createBlockDocument,
  deleteBlockDocument,
  filterBlockDocuments,
  readBlockDocument,
  updateBlockDocument,
  type BlockStore,
} from "../db/queries/block-documents.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

export function registerBlockDocumentRoutes({ router, db }: ApiContext, store: BlockStore): void {
  router.route({
    method: "POST",
    path: "/block_documents/",
    tag: "Block documents",
    summary: "Create a block document (its data stored encrypted); a name taken within its block type is a 409",
    body: BlockDocumentCreate,
    response: BlockDocument,
    status: 201,
    handler: ({ body }) => createBlockDocument(store, body),
  });
  router.route({
    method: "GET",
    path: "/block_documents/{id}",
    tag: "Block documents",
    summary: "Read a block document; secret fields are obfuscated unless include_secrets=true",
    params: IdParams,
    query: IncludeSecretsQuery,
    response: BlockDocument,
    handler: async ({ params, query }) => (await readBlockDocument(store, params.id, query.include_secrets)) ?? notFound(params.id),
  });
  router.route({
    method: "PATCH",
    path: "/block_documents/{id}",
    tag: "Block documents",
    summary: "Update a block document's data (merged into the stored data unless merge_existing_data is false) or schema",
    params: IdParams,
    body: BlockDocumentUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await updateBlockDocument(store, params.id, body))) notFound(params.id);
    },
  });
  router.route({
    method: "DELETE",
    path: "/block_documents/{id}",
    tag: "Block documents",
    summary: "Delete a block document",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteBlockDocument(db, params.id))) notFound(params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/block_documents/filter",
    tag: "Block documents",
    summary: "Query block documents (anonymous ones only when asked for)",
    body: BlockDocumentFilterBody,
    response: z.array(BlockDocument),
    handler: ({ body }) => filterBlockDocuments(store, body),
  });
  router.route({
    method: "POST",
    path: "/block_documents/count",
    tag: "Block documents",
    summary: "Count block documents",
    body: BlockDocumentCountBody,
    response: z.number().int(),
    handler: ({ body }) => countBlockDocuments(db, body),
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Block document", id);
}
