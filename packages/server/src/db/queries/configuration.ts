import type { ServerDefaultResultStorage } from "@baton/core";
import type { Executor } from "../database.js";
import { fromJson, newId, toJson } from "../json.js";

/** One JSON value per key in the `configuration` table (server settings kept in the database). */

export async function readConfiguration<T>(db: Executor, key: string): Promise<T | undefined> {
  const row = await db.selectFrom("configuration").select("value").where("key", "=", key).executeTakeFirst();
  return row === undefined ? undefined : fromJson<T | undefined>(row.value, undefined);
}

/** Sets the value of `key` (one statement: insert, or update the row that has the key). */
export async function writeConfiguration(db: Executor, key: string, value: unknown): Promise<void> {
  const now = new Date().toISOString();
  await db
    .insertInto("configuration")
    .values({ id: newId(), created: now, updated: now, key, value: toJson(value) })
    .onConflict((oc) => oc.column("key").doUpdateSet({ value: toJson(value), updated: now }))
    .execute();
}

export async function deleteConfiguration(db: Executor, key: string): Promise<boolean> {
  const result = await db.deleteFrom("configuration").where("key", "=", key).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** The `configuration` key of the server's default result storage, as Prefect names it. */
export const DEFAULT_RESULT_STORAGE_KEY = "server_default_result_storage";

export async function readDefaultResultStorage(db: Executor): Promise<ServerDefaultResultStorage> {
  const stored = await readConfiguration<Partial<ServerDefaultResultStorage>>(db, DEFAULT_RESULT_STORAGE_KEY);
  return { default_result_storage_block_id: stored?.default_result_storage_block_id ?? null };
}

/** A deleted block document stops being the default result storage (Prefect clears it too). */
export async function clearDefaultResultStorageFor(db: Executor, blockDocumentId: string): Promise<void> {
  const current = await readDefaultResultStorage(db);
  if (current.default_result_storage_block_id === blockDocumentId) await deleteConfiguration(db, DEFAULT_RESULT_STORAGE_KEY);
}
