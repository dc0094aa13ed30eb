import { Link } from "wouter";
import type { Flow, FlowRun } from "@baton/core";
import { usePost } from "../queries";
import { Table } from "./list-table";
import { StateBadge, Tags, Time, formatDuration } from "./ui";

/** Flow names of the given runs, in one request. */
export function useFlowNames(runs: Array<{ flow_id: string }> | undefined): Map<string, string> {
  const ids = [...new Set((runs ?? []).map((r) => r.flow_id))].sort();
  const flows = usePost<Flow[]>("/flows/filter", { flows: { id: { any_: ids } }, limit: 200 }, { enabled: ids.length > 0, staleTime: 30_000 });
  return new Map((flows.data ?? []).map((f) => [f.id, f.name]));
}

export function RunsTable({ runs, showFlow = true }: { runs: FlowRun[]; showFlow?: boolean }) {
  const flowNames = useFlowNames(showFlow ? runs : undefined);
  return (
    <Table
      className="runs-table"
      rows={runs}
      rowKey={(run) => run.id}
      rowProps={(run) => ({ "data-run-id": run.id })}
      columns={[
        { header: "Run", cell: (run) => <Link href={`/runs/${run.id}`}>{run.name}</Link> },
        showFlow && { header: "Flow", cell: (run) => <Link href={`/flows/${run.flow_id}`}>{flowNames.get(run.flow_id) ?? "…"}</Link> },
        { header: "State", cell: (run) => <StateBadge type={run.state_type} name={run.state_name} /> },
        { header: "Start", className: "hide-phone", cell: (run) => <Time iso={run.start_time ?? run.expected_start_time} /> },
        { header: "Duration", className: "hide-phone", cell: (run) => (run.start_time || run.total_run_time ? formatDuration(run.total_run_time || run.estimated_run_time) : "—") },
        { header: "Tags", className: "hide-phone", cell: (run) => <Tags tags={run.tags} /> },
      ]}
    />
  );
}
