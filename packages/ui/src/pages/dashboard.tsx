import { useState } from "react";
import { Link } from "wouter";
import type { FlowRun, WorkPool } from "@baton/core";
import { LIVE_MS, usePost } from "../queries";
import { RunsTable } from "../components/runs-table";
import { HistoryChart } from "../components/history-chart";
import { HISTORY_RANGES, countByType, useRunHistory } from "../components/history";
import { PoolHealthTable } from "../components/work-pool-health";
import { PageHeader, QueryState, STATE_TYPES, stateColor, titleCase } from "../components/ui";

export default function DashboardPage() {
  const [range, setRange] = useState("24h");
  const seconds = HISTORY_RANGES.find(([id]) => id === range)?.[2] ?? 86400;
  const since = new Date(Math.floor((Date.now() - seconds * 1000) / 60_000) * 60_000).toISOString();
  const history = useRunHistory(seconds);
  const counts = countByType(history.data);
  const failed = usePost<FlowRun[]>("/flow_runs/filter", { flow_runs: { state: { type: { any_: ["FAILED", "CRASHED"] } }, expected_start_time: { after_: since } }, sort: "EXPECTED_START_TIME_DESC", limit: 10 }, { refetchInterval: LIVE_MS });
  const late = usePost<FlowRun[]>("/flow_runs/filter", { flow_runs: { state: { name: { any_: ["Late"] } } }, sort: "EXPECTED_START_TIME_ASC", limit: 10 }, { refetchInterval: LIVE_MS });
  const pools = usePost<WorkPool[]>("/work_pools/filter", { limit: 200 }, { refetchInterval: 10_000 });
  const total = [...counts.values()].reduce((a, b) => a + b, 0);

  return (
    <>
      <PageHeader title="Dashboard">
        <select aria-label="Time range" value={range} onChange={(e) => setRange(e.target.value)}>
          {HISTORY_RANGES.map(([id, label]) => (
            <option key={id} value={id}>
              {label}
            </option>
          ))}
        </select>
      </PageHeader>
      <div className="stats" aria-label="Runs by state">
        <div className="stat">
          <span className="muted small">All runs</span>
          <b data-stat="total">{total.toLocaleString()}</b>
        </div>
        {STATE_TYPES.filter((type) => counts.get(type)).map((type) => (
          <Link key={type} href={`/runs?state=${type}&range=${range}`} className="stat" style={{ color: "inherit", borderTop: `3px solid ${stateColor(type)}` }}>
            <span className="muted small">{titleCase(type)}</span>
            <b data-stat={type}>{counts.get(type)!.toLocaleString()}</b>
          </Link>
        ))}
      </div>
      <section className="panel" style={{ marginTop: 16 }}>
        <h2>Flow runs over time</h2>
        <QueryState query={history}>{history.data && <HistoryChart history={history.data} />}</QueryState>
      </section>
      <div className="grid">
        <section className="panel">
          <h2>Failed and crashed runs</h2>
          <QueryState query={failed} empty={failed.data?.length === 0 && "None in this range."}>
            {failed.data && <RunsTable runs={failed.data} />}
          </QueryState>
        </section>
        <section className="panel">
          <h2>Late runs</h2>
          <QueryState query={late} empty={late.data?.length === 0 && "No run is late."}>
            {late.data && <RunsTable runs={late.data} />}
          </QueryState>
        </section>
      </div>
      <section className="panel">
        <h2>Work pools</h2>
        <QueryState query={pools} empty={pools.data?.length === 0 && "No work pools."}>
          {pools.data && <PoolHealthTable pools={pools.data} />}
        </QueryState>
      </section>
    </>
  );
}
