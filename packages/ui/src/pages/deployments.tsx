import { useState } from "react";
import { Link } from "wouter";
import type { Deployment } from "@baton/core";
import { usePost } from "../queries";
import { useFlowNames } from "../components/runs-table";
import { describeSchedule } from "../components/schedule";
import { PageHeader, QueryState, Tags, useDebounced } from "../components/ui";

export default function DeploymentsPage() {
  const [text, setText] = useState("");
  const search = useDebounced(text);
  const deployments = usePost<Deployment[]>("/deployments/filter", { deployments: search ? { flow_or_deployment_name: { like_: search } } : undefined, sort: "NAME_ASC", limit: 200 }, { refetchInterval: 10_000 });
  const flowNames = useFlowNames(deployments.data);
  return (
    <>
      <PageHeader title="Deployments" />
      <div className="filters">
        <input data-search placeholder="Flow or deployment name…" aria-label="Search deployments" value={text} onChange={(e) => setText(e.target.value)} />
      </div>
      <QueryState query={deployments} empty={deployments.data?.length === 0 && "No deployments. Create one with `baton deploy` or `serve()`."}>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Deployment</th>
                <th>Flow</th>
                <th>Schedules</th>
                <th className="hide-phone">Work pool</th>
                <th className="hide-phone">Tags</th>
                <th>Status</th>
              </tr>
            </thead>
            <tbody>
              {deployments.data?.map((d) => (
                <tr key={d.id} data-deployment-id={d.id}>
                  <td>
                    <Link href={`/deployments/${d.id}`}>{d.name}</Link>
                  </td>
                  <td>
                    <Link href={`/flows/${d.flow_id}`}>{flowNames.get(d.flow_id) ?? "…"}</Link>
                  </td>
                  <td className="small">{d.schedules.length ? d.schedules.map((s) => <div key={s.id} className={s.active ? "" : "muted"}>{describeSchedule(s.schedule)}{s.active ? "" : " (inactive)"}</div>) : <span className="muted">none</span>}</td>
                  <td className="hide-phone">{d.work_pool_name ? <Link href={`/work-pools/${encodeURIComponent(d.work_pool_name)}`}>{d.work_pool_name}</Link> : <span className="muted">—</span>}</td>
                  <td className="hide-phone">
                    <Tags tags={d.tags} />
                  </td>
                  <td>{d.paused ? <span className="badge" style={{ ["--c" as string]: "var(--state-paused)" }}>Paused</span> : <span className="badge" style={{ ["--c" as string]: d.status === "READY" ? "var(--state-completed)" : "var(--state-scheduled)" }}>{d.status === "READY" ? "Ready" : "Not ready"}</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </QueryState>
    </>
  );
}
