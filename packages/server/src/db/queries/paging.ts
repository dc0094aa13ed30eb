import { MAX_FILTER_LIMIT } from "@baton/core";

/** A read without a limit gets the largest page, as Prefect's default limit does. */
export function pageLimit(limit: number | null | undefined): number {
  return limit ?? MAX_FILTER_LIMIT;
}
