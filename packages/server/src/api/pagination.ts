import { MAX_FILTER_LIMIT } from "@baton/core";

/** The contract's page envelope around any filter: pages are 1-based, `limit` defaults to the maximum. */
export async function paginate<T>(
  body: { page: number; limit?: number | null | undefined },
  count: () => Promise<number>,
  read: (limit: number, offset: number) => Promise<T[]>,
): Promise<{ results: T[]; count: number; limit: number; pages: number; page: number }> {
  const limit = body.limit ?? MAX_FILTER_LIMIT;
  const [total, results] = await Promise.all([count(), limit === 0 ? Promise.resolve([]) : read(limit, (body.page - 1) * limit)]);
  return { results, count: total, limit, pages: limit === 0 ? 0 : Math.ceil(total / limit), page: body.page };
}
