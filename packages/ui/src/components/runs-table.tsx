import { Link } from "wouter";
import type { Flow, FlowRun } from "@baton/core";
import { usePost } from "../queries";
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
    <div className="table-wrap">
      <table className="runs-table">
        <thead>
          <tr>
            <th>Run</th>
            {showFlow && <th>Flow</th>}
            <th>State</th>
            <th className="hide-phone">Start</th>
            <th className="hide-phone">Duration</th>
            <th className="hide-phone">Tags</th>
          </tr>
        </thead>
        <tbody>
          {runs.map((run) => (
            <tr key={run.id} data-run-id={run.id}>
              <td>
                <Link href={`/runs/${run.id}`}>{run.name}</Link>
              </td>
              {showFlow && (
                <td>
                  <Link href={`/flows/${run.flow_id}`}>{flowNames.get(run.flow_id) ?? "…"}</Link>
                </td>
              )}
              <td>
                <StateBadge type={run.state_type} name={run.state_name} />
              </td>
              <td className="hide-phone">
                <Time iso={run.start_time ?? run.expected_start_time} />
              </td>
              <td className="hide-phone">{run.start_time || run.total_run_time ? formatDuration(run.total_run_time || run.estimated_run_time) : "—"}</td>
              <td className="hide-phone">
                <Tags tags={run.tags} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
