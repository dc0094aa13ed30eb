import { paginationResponse } from "@baton/core";
import { z, type ZodType } from "zod";
import { paginate } from "./pagination.js";
import type { ApiRouter } from "./route.js";

interface Page {
  sort: unknown;
  limit?: number | null | undefined;
  offset: number;
}
type PageOf<F extends Page> = Pick<F, "sort" | "limit" | "offset">;

export interface QueryRoutes<C, F extends C & Page, P extends C & { sort: F["sort"]; page: number; limit?: number | null | undefined }, T> {
  /** Collection path, e.g. `/flow_runs`. */
  base: string;
  tag: string;
  /** Plural noun for summaries, e.g. "flow runs". */
  noun: string;
  item: ZodType<T>;
  filterBody: ZodType<F>;
  countBody: ZodType<C>;
  paginateBody: ZodType<P>;
  filter(criteria: C, page: PageOf<F>): Promise<T[]>;
  count(criteria: C): Promise<number>;
}

/**
 * `POST {base}/filter`, `/count` and `/paginate`: the three reads every collection of the
 * contract offers, registered the same way for each of them.
 */
export function registerQueryRoutes<C, F extends C & Page, P extends C & { sort: F["sort"]; page: number; limit?: number | null | undefined }, T>(
  router: ApiRouter,
  spec: QueryRoutes<C, F, P, T>,
): void {
  router.route({
    method: "POST",
    path: `${spec.base}/filter`,
    tag: spec.tag,
    summary: `Query ${spec.noun}`,
    body: spec.filterBody,
    response: z.array(spec.item),
    handler: ({ body }) => spec.filter(body, body),
  });
  router.route({
    method: "POST",
    path: `${spec.base}/count`,
    tag: spec.tag,
    summary: `Count ${spec.noun}`,
    body: spec.countBody,
    response: z.number().int(),
    handler: ({ body }) => spec.count(body),
  });
  router.route({
    method: "POST",
    path: `${spec.base}/paginate`,
    tag: spec.tag,
    summary: `Query ${spec.noun} page by page`,
    body: spec.paginateBody,
    response: paginationResponse(spec.item),
    handler: ({ body }) =>
      paginate(body, () => spec.count(body), (limit, offset) => spec.filter(body, { sort: body.sort, limit, offset } as PageOf<F>)),
  });
}
