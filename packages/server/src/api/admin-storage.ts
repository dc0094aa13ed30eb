import { InvalidInputError, ObjectNotFoundError, ServerDefaultResultStorage, ServerDefaultResultStorageUpdate } from "@baton/core";
import { DEFAULT_RESULT_STORAGE_KEY, deleteConfiguration, readDefaultResultStorage, writeConfiguration } from "../db/queries/configuration.js";
import { fromJson } from "../db/json.js";
import type { ApiContext } from "./context.js";

/**
 * `admin/storage`: the block document the SDK writes results to when a flow or task names no
 * storage and the process has no storage setting of its own (see the README's "Results,
 * caching and transactions"). Only a block whose schema has the `write-path` capability can
 * be the default (Baton's `local-file-system` and `s3-bucket` have it).
 */
export function registerAdminStorageRoutes({ router, db }: ApiContext): void {
  router.route({
    method: "GET",
    path: "/admin/storage",
    tag: "Admin",
    summary: "Read the server's default result storage block",
    response: ServerDefaultResultStorage,
    handler: async () => readDefaultResultStorage(db.kysely),
  });
  router.route({
    method: "PUT",
    path: "/admin/storage",
    tag: "Admin",
    summary: "Set the server's default result storage block",
    body: ServerDefaultResultStorageUpdate,
    response: ServerDefaultResultStorage,
    handler: async ({ body }) =>
      db.write(async (trx) => {
        const id = body.default_result_storage_block_id;
        const doc = await trx
          .selectFrom("block_document")
          .innerJoin("block_schema", "block_schema.id", "block_document.block_schema_id")
          .select(["block_document.id", "block_schema.capabilities"])
          .where("block_document.id", "=", id)
          .executeTakeFirst();
        if (doc === undefined) throw new ObjectNotFoundError(`Block document ${id}`, id);
        if (!fromJson<string[]>(doc.capabilities, []).includes("write-path")) {
          throw new InvalidInputError("body.default_result_storage_block_id", `Block document ${id} cannot be used for result storage (its schema lacks the 'write-path' capability)`);
        }
        const value: ServerDefaultResultStorage = { default_result_storage_block_id: id };
        await writeConfiguration(trx, DEFAULT_RESULT_STORAGE_KEY, value);
        return value;
      }),
  });
  router.route({
    method: "DELETE",
    path: "/admin/storage",
    tag: "Admin",
    summary: "Clear the server's default result storage block",
    status: 204,
    handler: async () => {
      await deleteConfiguration(db.kysely, DEFAULT_RESULT_STORAGE_KEY);
    },
  });
}
