import type { StateType } from "@baton/core";

export const RANGES: Array<[string, string, number]> = [
  ["", "Any time", 0],
  ["1h", "Past hour", 3600],
  ["24h", "Past day", 86400],
  ["7d", "Past 7 days", 7 * 86400],
  ["30d", "Past 30 days", 30 * 86400],
];

export const PAGE_SIZE = 50;
export const RUNS_PAGE_PATH = "/flow_runs/paginate";

/**
 * The runs page's request for the filters in its URL. Kept apart from the page so that the
 * app can send it at boot, before the page's code has loaded (same body, same query key).
 */
export function runsPageBody(params: URLSearchParams, tagText = params.get("tags") ?? "", nameText = params.get("q") ?? "") {
  const states = params.getAll("state").filter(Boolean) as StateType[];
  const flow = params.get("flow") ?? "";
  const deployment = params.get("deployment") ?? "";
  const range = params.get("range") ?? "";
  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  const tagList = tagText.split(",").map((t) => t.trim()).filter(Boolean);
  const seconds = RANGES.find(([id]) => id === range)?.[2] ?? 0;
  // Rounded to the minute, so the query key (and the cache) holds still between polls.
  const after = seconds ? new Date(Math.floor((Date.now() - seconds * 1000) / 60_000) * 60_000).toISOString() : undefined;
  return {
    flow_runs: {
      ...(states.length ? { state: { type: { any_: states } } } : {}),
      ...(deployment ? { deployment_id: { any_: [deployment] } } : {}),
      ...(tagList.length ? { tags: { all_: tagList } } : {}),
      ...(nameText ? { name: { like_: nameText } } : {}),
      ...(after ? { expected_start_time: { after_: after } } : {}),
    },
    ...(flow ? { flows: { id: { any_: [flow] } } } : {}),
    sort: "EXPECTED_START_TIME_DESC",
    limit: PAGE_SIZE,
    page,
  };
}
