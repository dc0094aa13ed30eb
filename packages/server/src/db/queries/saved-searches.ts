import type { SavedSearch, SavedSearchCreate } from "@baton/core";
import type { Selectable } from "kysely";
import type { Executor } from "../database.js";
import { fromJson, newId, toJson } from "../json.js";
import type { SavedSearchTable } from "../schema.js";
import { pageLimit } from "./paging.js";

function savedSearchFromRow(row: Selectable<SavedSearchTable>): SavedSearch {
  return { id: row.id, created: row.created, updated: row.updated, name: row.name, filters: fromJson(row.filters, []) };
}

/** Creates the search, or replaces the filters of the one with that name (the contract's PUT). */
export async function upsertSavedSearch(db: Executor, input: SavedSearchCreate): Promise<SavedSearch> {
  const now = new Date().toISOString();
  const row = await db
    .insertInto("saved_search")
    .values({ id: newId(), created: now, updated: now, name: input.name, filters: toJson(input.filters) })
    .onConflict((oc) => oc.column("name").doUpdateSet({ filters: toJson(input.filters), updated: now }))
    .returningAll()
    .executeTakeFirstOrThrow();
  return savedSearchFromRow(row);
}

export async function readSavedSearch(db: Executor, id: string): Promise<SavedSearch | undefined> {
  const row = await db.selectFrom("saved_search").selectAll().where("id", "=", id).executeTakeFirst();
  return row && savedSearchFromRow(row);
}

export async function deleteSavedSearch(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom("saved_search").where("id", "=", id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function listSavedSearches(db: Executor, page: { offset: number; limit?: number | null | undefined }): Promise<SavedSearch[]> {
  const rows = await db.selectFrom("saved_search").selectAll().orderBy("name").limit(pageLimit(page.limit)).offset(page.offset).execute();
  return rows.map(savedSearchFromRow);
}
