import { ApiError, MAX_FILTER_LIMIT } from "@baton/core";
import type { BatonClient } from "@baton/sdk";

/**
 * Reads up to `limit` items (every item when `limit` is undefined) through a `.../filter`
 * endpoint, in pages of at most 200 (the server's cap), stopping at the first short page.
 */
export async function readPages<T>(
  limit: number | undefined,
  readPage: (offset: number, limit: number) => Promise<T[]>,
): Promise<T[]> {
  const items: T[] = [];
  for (;;) {
    const want = limit === undefined ? MAX_FILTER_LIMIT : Math.min(MAX_FILTER_LIMIT, limit - items.length);
    if (want <= 0) return items;
    const page = await readPage(items.length, want);
    items.push(...page);
    if (page.length < want) return items;
  }
}

/** Names of the given flows by id (one request per 200 flows), for a table's "flow" column. */
export async function readFlowNames(client: BatonClient, flowIds: Iterable<string>): Promise<Map<string, string>> {
  const ids = [...new Set(flowIds)];
  if (ids.length === 0) return new Map();
  const flows = await readPages(undefined, (offset, limit) =>
    client.filterFlows({ flows: { id: { any_: ids } }, sort: "NAME_ASC", offset, limit }),
  );
  return new Map(flows.map((flow) => [flow.id, flow.name]));
}

/**
 * Task runs per flow run, in one request per 200 runs (`POST /ui/flow_runs/count-task-runs`,
 * which Prefect's UI uses too). A server without that route gives an empty map.
 */
export async function readTaskRunCounts(client: BatonClient, flowRunIds: readonly string[]): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  try {
    for (let i = 0; i < flowRunIds.length; i += MAX_FILTER_LIMIT) {
      const chunk = flowRunIds.slice(i, i + MAX_FILTER_LIMIT);
      const page = await client.request<Record<string, number>>("POST", "/ui/flow_runs/count-task-runs", { flow_run_ids: chunk });
      for (const [id, n] of Object.entries(page)) counts.set(id, n);
    }
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return new Map();
    throw error;
  }
  return counts;
}
