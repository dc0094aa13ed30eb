import type { FlowRun } from "@baton/core";
import { Link } from "wouter";
import { LIVE_MS, usePost } from "../queries";
import { RunsTable } from "../components/runs-table";
import { PageHeader, QueryState } from "../components/ui";

function useRuns(title: string, filter: unknown) {
  return { title, query: usePost<FlowRun[]>("/flow_runs/filter", { flow_runs: filter, sort: "EXPECTED_START_TIME_DESC", limit: 10 }, { refetchInterval: LIVE_MS }) };
}

export default function DashboardPage() {
  const since = new Date(Math.floor((Date.now() - 86_400_000) / 60_000) * 60_000).toISOString();
  const lists = [
    useRuns("Failed and crashed runs (past day)", { state: { type: { any_: ["FAILED", "CRASHED"] } }, expected_start_time: { after_: since } }),
    useRuns("Late runs", { state: { name: { any_: ["Late"] } } }),
  ];
  return (
    <>
      <PageHeader title="Dashboard" />
      {lists.map(({ title, query }) => (
        <section className="panel" key={title}>
          <h2>{title}</h2>
          <QueryState query={query} empty={query.data?.length === 0 && "None."}>
            {query.data && <RunsTable runs={query.data} />}
          </QueryState>
        </section>
      ))}
      <p>
        <Link href="/runs">All flow runs →</Link>
      </p>
    </>
  );
}
