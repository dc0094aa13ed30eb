import { useState } from "react";
import { Link } from "wouter";
import type { Deployment, Flow } from "@baton/core";
import { usePost } from "../queries";
import { ListTable } from "../components/list-table";
import { PageHeader, Tags, Time, useDebounced } from "../components/ui";

export default function FlowsPage() {
  const [text, setText] = useState("");
  const search = useDebounced(text);
  const flows = usePost<Flow[]>("/flows/filter", { flows: search ? { name: { like_: search } } : undefined, sort: "NAME_ASC", limit: 200 }, { refetchInterval: 10_000 });
  const deployments = usePost<Deployment[]>("/deployments/filter", { limit: 200 }, { refetchInterval: 10_000 });
  const perFlow = new Map<string, number>();
  for (const d of deployments.data ?? []) perFlow.set(d.flow_id, (perFlow.get(d.flow_id) ?? 0) + 1);
  return (
    <>
      <PageHeader title="Flows" />
      <div className="filters">
        <input data-search placeholder="Flow name…" aria-label="Search flows" value={text} onChange={(e) => setText(e.target.value)} />
      </div>
      <ListTable
        query={flows}
        empty="No flows yet: run one and it appears here."
        rowKey={(f) => f.id}
        rowProps={(f) => ({ "data-flow-id": f.id })}
        columns={[
          { header: "Flow", cell: (f) => <Link href={`/flows/${f.id}`}>{f.name}</Link> },
          { header: "Deployments", cell: (f) => perFlow.get(f.id) ?? 0 },
          { header: "Created", className: "hide-phone", cell: (f) => <Time iso={f.created} /> },
          { header: "Tags", className: "hide-phone", cell: (f) => <Tags tags={f.tags} /> },
        ]}
      />
    </>
  );
}
