import { useState } from "react";
import { Link } from "wouter";
import type { Deployment } from "@baton/core";
import { usePost } from "../queries";
import { useFlowNames } from "../components/runs-table";
import { describeSchedule } from "../components/schedule";
import { ListTable } from "../components/list-table";
import { PageHeader, Tags, useDebounced } from "../components/ui";

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
      <ListTable
        query={deployments}
        empty="No deployments. Create one with `baton deploy` or `serve()`."
        rowKey={(d) => d.id}
        rowProps={(d) => ({ "data-deployment-id": d.id })}
        columns={[
          { header: "Deployment", cell: (d) => <Link href={`/deployments/${d.id}`}>{d.name}</Link> },
          { header: "Flow", cell: (d) => <Link href={`/flows/${d.flow_id}`}>{flowNames.get(d.flow_id) ?? "…"}</Link> },
          { header: "Schedules", cellClassName: "small", cell: (d) => (d.schedules.length ? d.schedules.map((s) => <div key={s.id} className={s.active ? "" : "muted"}>{describeSchedule(s.schedule)}{s.active ? "" : " (inactive)"}</div>) : <span className="muted">none</span>) },
          { header: "Work pool", className: "hide-phone", cell: (d) => (d.work_pool_name ? <Link href={`/work-pools/${encodeURIComponent(d.work_pool_name)}`}>{d.work_pool_name}</Link> : <span className="muted">—</span>) },
          { header: "Tags", className: "hide-phone", cell: (d) => <Tags tags={d.tags} /> },
          { header: "Status", cell: (d) => (d.paused ? <span className="badge" style={{ ["--c" as string]: "var(--state-paused)" }}>Paused</span> : <span className="badge" style={{ ["--c" as string]: d.status === "READY" ? "var(--state-completed)" : "var(--state-scheduled)" }}>{d.status === "READY" ? "Ready" : "Not ready"}</span>) },
        ]}
      />
    </>
  );
}
