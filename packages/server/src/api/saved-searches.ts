import { ObjectNotFoundError, SavedSearch, SavedSearchCreate, SavedSearchFilterBody } from "@baton/core";
import { z } from "zod";
import { deleteSavedSearch, listSavedSearches, readSavedSearch, upsertSavedSearch } from "../db/queries/saved-searches.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

/** Saved searches: the UI's named filter sets. */
export function registerSavedSearchRoutes({ router, db }: ApiContext): void {
  router.route({
    method: "PUT",
    path: "/saved_searches/",
    tag: "SavedSearches",
    summary: "Create a saved search, or replace the filters of the one with that name",
    body: SavedSearchCreate,
    response: SavedSearch,
    handler: ({ body }) => upsertSavedSearch(db.kysely, body),
  });
  router.route({
    method: "GET",
    path: "/saved_searches/{id}",
    tag: "SavedSearches",
    summary: "Read a saved search",
    params: IdParams,
    response: SavedSearch,
    handler: async ({ params }) => (await readSavedSearch(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "DELETE",
    path: "/saved_searches/{id}",
    tag: "SavedSearches",
    summary: "Delete a saved search",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteSavedSearch(db.kysely, params.id))) notFound(params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/saved_searches/filter",
    tag: "SavedSearches",
    summary: "List saved searches by name",
    body: SavedSearchFilterBody,
    response: z.array(SavedSearch),
    handler: ({ body }) => listSavedSearches(db.kysely, body),
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Saved search", id);
}
