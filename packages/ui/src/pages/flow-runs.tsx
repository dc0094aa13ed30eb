import { useMemo, useState } from "react";
import { useSearch, useLocation } from "wouter";
import type { Deployment, Flow, FlowRun, StateType } from "@baton/core";
import { RANGES, RUNS_PAGE_PATH, runsPageBody } from "./flow-runs-query";
import { LIVE_MS, usePost } from "../queries";
import { RunsTable } from "../components/runs-table";
import { PageHeader, QueryState, STATE_TYPES, titleCase, useDebounced } from "../components/ui";

interface RunPage {
  results: FlowRun[];
  count: number;
  pages: number;
  page: number;
}

/** The runs list: filters live in the URL's query string, so a filtered view can be shared. */
let marked = false;

export default function FlowRunsPage() {
  if (!marked) {
    marked = true;
    performance.mark("baton:runs-page");
  }
  const search = useSearch();
  const [, navigate] = useLocation();
  const params = useMemo(() => new URLSearchParams(search), [search]);
  const states = params.getAll("state") as StateType[];
  const flow = params.get("flow") ?? "";
  const deployment = params.get("deployment") ?? "";
  const range = params.get("range") ?? "";
  const page = Math.max(1, Number(params.get("page") ?? "1") || 1);
  const [tagText, setTagText] = useState(params.get("tags") ?? "");
  const [nameText, setNameText] = useState(params.get("q") ?? "");
  const tags = useDebounced(tagText);
  const name = useDebounced(nameText);

  const set = (key: string, values: string[]) => {
    const next = new URLSearchParams(search);
    next.delete(key);
    for (const value of values) if (value) next.append(key, value);
    if (key !== "page") next.delete("page");
    const query = next.toString();
    navigate(query ? `/runs?${query}` : "/runs", { replace: true });
  };

  const body = runsPageBody(params, tags, name);
  const runs = usePost<RunPage>(RUNS_PAGE_PATH, body, { refetchInterval: LIVE_MS, placeholderData: (previous) => previous });
  const flows = usePost<Flow[]>("/flows/filter", { sort: "NAME_ASC", limit: 200 }, { staleTime: 30_000 });
  const deployments = usePost<Deployment[]>("/deployments/filter", { sort: "NAME_ASC", limit: 200 }, { staleTime: 30_000 });

  return (
    <>
      <PageHeader title="Flow runs">
        <span className="muted" aria-live="polite">
          {runs.data ? `${runs.data.count.toLocaleString()} runs` : ""}
        </span>
      </PageHeader>
      <div className="filters" role="search">
        <input data-search placeholder="Run name…" aria-label="Run name" value={nameText} onChange={(e) => { setNameText(e.target.value); set("q", [e.target.value]); }} />
        <select aria-label="State" value={states[0] ?? ""} onChange={(e) => set("state", [e.target.value])}>
          <option value="">All states</option>
          {STATE_TYPES.map((type) => (
            <option key={type} value={type}>
              {titleCase(type)}
            </option>
          ))}
        </select>
        <select aria-label="Flow" value={flow} onChange={(e) => set("flow", [e.target.value])}>
          <option value="">All flows</option>
          {flows.data?.map((f) => (
            <option key={f.id} value={f.id}>
              {f.name}
            </option>
          ))}
        </select>
        <select aria-label="Deployment" value={deployment} onChange={(e) => set("deployment", [e.target.value])}>
          <option value="">All deployments</option>
          {deployments.data?.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name}
            </option>
          ))}
        </select>
        <input placeholder="Tags (a, b)" aria-label="Tags" value={tagText} onChange={(e) => { setTagText(e.target.value); set("tags", [e.target.value]); }} />
        <select aria-label="Time" value={range} onChange={(e) => set("range", [e.target.value])}>
          {RANGES.map(([id, label]) => (
            <option key={id} value={id}>
              {label}
            </option>
          ))}
        </select>
      </div>
      <QueryState query={runs} empty={runs.data?.results.length === 0 && "No flow runs match these filters."}>
        {runs.data && <RunsTable runs={runs.data.results} />}
        {runs.data && runs.data.pages > 1 && (
          <div className="filters pager">
            <button disabled={page <= 1} onClick={() => set("page", [String(page - 1)])}>
              ← Newer
            </button>
            <span className="muted">
              Page {page} of {runs.data.pages.toLocaleString()}
            </span>
            <button disabled={page >= runs.data.pages} onClick={() => set("page", [String(page + 1)])}>
              Older →
            </button>
          </div>
        )}
      </QueryState>
    </>
  );
}
