import { useState } from "react";
import { Link } from "wouter";
import type { Deployment, Flow } from "@baton/core";
import { usePost } from "../queries";
import { PageHeader, QueryState, Tags, Time, useDebounced } from "../components/ui";

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
      <QueryState query={flows} empty={flows.data?.length === 0 && "No flows yet: run one and it appears here."}>
        <div className="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Flow</th>
                <th>Deployments</th>
                <th className="hide-phone">Created</th>
                <th className="hide-phone">Tags</th>
              </tr>
            </thead>
            <tbody>
              {flows.data?.map((f) => (
                <tr key={f.id} data-flow-id={f.id}>
                  <td>
                    <Link href={`/flows/${f.id}`}>{f.name}</Link>
                  </td>
                  <td>{perFlow.get(f.id) ?? 0}</td>
                  <td className="hide-phone">
                    <Time iso={f.created} />
                  </td>
                  <td className="hide-phone">
                    <Tags tags={f.tags} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      </QueryState>
    </>
  );
}
