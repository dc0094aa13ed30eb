import { Link } from "wouter";
import type { Deployment, Flow, FlowRun } from "@baton/core";
import { LIVE_MS, useGet, usePost } from "../queries";
import { RunsTable } from "../components/runs-table";
import { HistoryChart } from "../components/history-chart";
import { useRunHistory } from "../components/history";
import { describeSchedule } from "../components/schedule";
import { Fields, PageHeader, QueryState, Tags, formatTime } from "../components/ui";

export default function FlowPage({ id }: { id: string }) {
  const flow = useGet<Flow>(`/flows/${id}`);
  const criteria = { flows: { id: { any_: [id] } } };
  const history = useRunHistory(7 * 86400, criteria);
  const runs = usePost<FlowRun[]>("/flow_runs/filter", { ...criteria, sort: "EXPECTED_START_TIME_DESC", limit: 20 }, { refetchInterval: LIVE_MS });
  const deployments = usePost<Deployment[]>("/deployments/filter", { ...criteria, sort: "NAME_ASC", limit: 200 });
  return (
    <QueryState query={flow}>
      {flow.data && (
        <>
          <PageHeader title={flow.data.name} crumbs={[["Flows", "/flows"]]}>
            <Link href={`/runs?flow=${id}`} className="button">
              All its runs
            </Link>
          </PageHeader>
          <Fields
            items={[
              ["Created", formatTime(flow.data.created)],
              ["Tags", <Tags tags={flow.data.tags} />],
            ]}
          />
          <section className="panel" style={{ marginTop: 16 }}>
            <h2>Runs over the past 7 days</h2>
            <QueryState query={history}>{history.data && <HistoryChart history={history.data} height={150} />}</QueryState>
          </section>
          <h2>Deployments</h2>
          <QueryState query={deployments} empty={deployments.data?.length === 0 && "No deployments of this flow."}>
            <ul className="plain">
              {deployments.data?.map((d) => (
                <li key={d.id}>
                  <Link href={`/deployments/${d.id}`}>{d.name}</Link> <span className="muted small">{d.schedules.map((s) => describeSchedule(s.schedule)).join(", ")}</span>
                </li>
              ))}
            </ul>
          </QueryState>
          <h2>Recent runs</h2>
          <QueryState query={runs} empty={runs.data?.length === 0 && "No runs yet."}>
            {runs.data && <RunsTable runs={runs.data} showFlow={false} />}
          </QueryState>
        </>
      )}
    </QueryState>
  );
}
