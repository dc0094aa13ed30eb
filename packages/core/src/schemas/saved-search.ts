import { z } from "zod";
import { Id } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";

/** One condition of a saved search, as the UI builds it (`{object, property, type, operation, value}`). */
export const SavedSearchFilter = lazySchema(() =>
  z.object({
    object: z.string().max(200),
    property: z.string().max(200),
    type: z.string().max(200),
    operation: z.string().max(200),
    value: z.unknown(),
  }));

export const SavedSearch = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    filters: z.array(SavedSearchFilter),
  }));
export type SavedSearch = z.infer<typeof SavedSearch>;

export const SavedSearchCreate = lazySchema(() =>
  z.strictObject({
    name: z.string().min(1, "must not be empty").max(500),
    filters: z.array(SavedSearchFilter).max(100).default([]),
  }));
export type SavedSearchCreate = z.infer<typeof SavedSearchCreate>;

export const SavedSearchFilterBody = lazySchema(() =>
  z.strictObject({ offset: z.number().int().min(0).default(0), limit: z.number().int().min(0).max(200).nullish() }));
