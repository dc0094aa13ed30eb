import { useState } from "react";
import { Link } from "wouter";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { Artifact, Deployment, Flow, FlowRun, State, TaskRun } from "@baton/core";
import { post } from "../api";
import { LIVE_MS, useGet, usePost } from "../queries";
import { LogStream } from "../components/logs";
import { Gantt, RunGraph, type RunGraphData } from "../components/run-graph";
import { Dialog } from "../components/dialog";
import { SchemaForm, type JsonSchema } from "../components/schema-form";
import { ArtifactView } from "../components/artifact-view";
import { ErrorBox, Fields, Json, PageHeader, QueryState, StateBadge, Tabs, Tags, Time, formatDuration, formatTime, stateColor, titleCase } from "../components/ui";

const FINAL = new Set(["COMPLETED", "FAILED", "CRASHED", "CANCELLED"]);

interface OrchestrationResult {
  status: "ACCEPT" | "REJECT" | "ABORT" | "WAIT";
  state: State | null;
  details: { reason?: string | null };
}

type Tab = "logs" | "tasks" | "graph" | "parameters" | "result" | "artifacts" | "details";

export default function FlowRunPage({ id }: { id: string }) {
  const queryClient = useQueryClient();
  const run = useGet<FlowRun & { state: State | null }>(`/flow_runs/${id}`, {
    refetchInterval: (query) => (query.state.data && FINAL.has(query.state.data.state_type ?? "") ? false : LIVE_MS),
  });
  const live = !run.data || !FINAL.has(run.data.state_type ?? "");
  const poll = live ? LIVE_MS : false;
  const states = useGet<State[]>(`/flow_run_states/?flow_run_id=${id}`, { refetchInterval: poll });
  const taskRuns = usePost<TaskRun[]>("/task_runs/filter", { flow_runs: { id: { any_: [id] } }, sort: "EXPECTED_START_TIME_ASC", limit: 200 }, { refetchInterval: poll });
  const graph = useGet<RunGraphData>(`/flow_runs/${id}/graph-v2`, { refetchInterval: poll });
  const artifacts = usePost<Artifact[]>("/artifacts/filter", { artifacts: { flow_run_id: { any_: [id] } }, sort: "CREATED_DESC", limit: 50 }, { refetchInterval: poll });
  const flow = useGet<Flow>(`/flows/${run.data?.flow_id}`, { enabled: Boolean(run.data) });
  const deployment = useGet<Deployment>(`/deployments/${run.data?.deployment_id}`, { enabled: Boolean(run.data?.deployment_id) });
  const [tab, setTab] = useState<Tab>("logs");
  const [resumeOpen, setResumeOpen] = useState(false);
  const [notice, setNotice] = useState<string>();

  const refresh = () => queryClient.invalidateQueries({ predicate: (q) => String(q.queryKey[0]).includes(id) || q.queryKey[0] === "/task_runs/filter" });
  const act = useMutation({
    mutationFn: async ({ path, body }: { path: string; body: unknown }) => post<OrchestrationResult>(path, body),
    onSuccess: (result) => {
      setNotice(result.status === "ACCEPT" ? undefined : `${titleCase(result.status)}: ${result.details.reason ?? "the server did not accept the change"}`);
      setResumeOpen(false);
      return refresh();
    },
  });

  const data = run.data;
  const state = data?.state ?? null;
  const type = data?.state_type ?? "";
  const cancellable = data && !FINAL.has(type) && type !== "CANCELLING";
  const retryable = data && FINAL.has(type) && type !== "COMPLETED";
  const resumable = type === "PAUSED";

  return (
    <QueryState query={run}>
      {data && (
        <>
          <PageHeader
            title={
              <>
                {data.name} <StateBadge type={data.state_type} name={data.state_name} />
              </>
            }
            crumbs={[
              ["Runs", "/runs"],
              [flow.data?.name ?? "flow", `/flows/${data.flow_id}`],
            ]}
          >
            {cancellable && (
              <button className="danger" disabled={act.isPending} onClick={() => act.mutate({ path: `/flow_runs/${id}/set_state`, body: { state: { type: "CANCELLING", name: "Cancelling", message: "Cancelled from the UI" } } })}>
                Cancel
              </button>
            )}
            {retryable && (
              <button disabled={act.isPending} onClick={() => act.mutate({ path: `/flow_runs/${id}/set_state`, body: { state: { type: "SCHEDULED", name: "AwaitingRetry", message: "Retry from the UI" } } })}>
                Retry
              </button>
            )}
            {resumable && (
              <button className="primary" disabled={act.isPending} onClick={() => (state?.state_details.run_input_keyset?.["schema"] ? setResumeOpen(true) : act.mutate({ path: `/flow_runs/${id}/resume`, body: {} }))}>
                Resume
              </button>
            )}
          </PageHeader>
          {notice && <p className="error" role="alert">{notice}</p>}
          {act.error && <ErrorBox error={act.error} />}
          {state?.message && <p className="muted">{state.message}</p>}
          <Fields
            items={[
              ["Flow", <Link href={`/flows/${data.flow_id}`}>{flow.data?.name ?? "…"}</Link>],
              ["Deployment", data.deployment_id ? <Link href={`/deployments/${data.deployment_id}`}>{deployment.data?.name ?? "…"}</Link> : null],
              ["Work pool", data.work_pool_name ? <Link href={`/work-pools/${encodeURIComponent(data.work_pool_name)}`}>{data.work_pool_name}</Link> : null],
              ["Start", data.start_time ? formatTime(data.start_time) : data.expected_start_time ? `expected ${formatTime(data.expected_start_time)}` : null],
              ["Duration", formatDuration(data.total_run_time || data.estimated_run_time)],
              ["Run count", data.run_count],
              ["Tags", <Tags tags={data.tags} />],
            ]}
          />
          <h2>State timeline</h2>
          <StateTimeline states={states.data ?? []} end={data.end_time} />
          <Tabs<Tab>
            value={tab}
            onChange={setTab}
            tabs={[
              ["logs", "Logs"],
              ["tasks", `Task runs${taskRuns.data ? ` (${taskRuns.data.length})` : ""}`],
              ["graph", "Graph"],
              ["parameters", "Parameters"],
              ["result", "Result"],
              ["artifacts", `Artifacts${artifacts.data ? ` (${artifacts.data.length})` : ""}`],
              ["details", "Details"],
            ]}
          />
          {tab === "logs" && <LogStream flowRunId={id} live={live} />}
          {tab === "tasks" && (
            <QueryState query={taskRuns} empty={taskRuns.data?.length === 0 && "No task runs."}>
              <Gantt items={(taskRuns.data ?? []).map((t) => ({ id: t.id, label: t.name, state_type: t.state_type, start_time: t.start_time, end_time: t.end_time }))} start={data.start_time} end={data.end_time} />
              <h2>All task runs</h2>
              <div className="table-wrap">
                <table>
                  <thead>
                    <tr>
                      <th>Task run</th>
                      <th>State</th>
                      <th className="hide-phone">Start</th>
                      <th>Duration</th>
                    </tr>
                  </thead>
                  <tbody>
                    {taskRuns.data?.map((t) => (
                      <tr key={t.id} data-task-run-id={t.id}>
                        <td>{t.name}</td>
                        <td>
                          <StateBadge type={t.state_type} name={t.state_name} />
                        </td>
                        <td className="hide-phone">
                          <Time iso={t.start_time} />
                        </td>
                        <td>{formatDuration(t.total_run_time || t.estimated_run_time)}</td>
                      </tr>
                    ))}
                  </tbody>
                </table>
              </div>
            </QueryState>
          )}
          {tab === "graph" && <QueryState query={graph}>{graph.data && <RunGraph graph={graph.data} />}</QueryState>}
          {tab === "parameters" && <Json value={data.parameters} />}
          {tab === "result" && <RunResult state={state} />}
          {tab === "artifacts" && (
            <QueryState query={artifacts} empty={artifacts.data?.length === 0 && "No artifacts."}>
              {artifacts.data?.map((a) => <ArtifactView key={a.id} artifact={a} />)}
            </QueryState>
          )}
          {tab === "details" && <Json value={{ ...data, state: undefined }} />}
          {resumeOpen && state && <ResumeDialog runId={id} state={state} onClose={() => setResumeOpen(false)} onResume={(input) => act.mutate({ path: `/flow_runs/${id}/resume`, body: { run_input: input } })} busy={act.isPending} error={act.error} />}
        </>
      )}
    </QueryState>
  );
}

function RunResult({ state }: { state: State | null }) {
  if (!state) return <p className="empty">No state yet.</p>;
  if (state.type !== "COMPLETED") return <p className="empty">{FINAL.has(state.type) ? `The run ended ${titleCase(state.type)}${state.message ? `: ${state.message}` : ""}.` : "No result until the run completes."}</p>;
  const data = state.data as { type?: string; value?: unknown } | null;
  if (data === null || data === undefined) return <p className="empty">The run completed without a stored result.</p>;
  return <Json value={data.type === "json" ? data.value : data} />;
}

/** States as a strip, each as wide as it lasted, with the list of transitions under it. */
function StateTimeline({ states, end }: { states: State[]; end: string | null }) {
  if (states.length === 0) return <p className="muted">No states yet.</p>;
  const times = states.map((s) => Date.parse(s.timestamp));
  const last = end ? Math.max(Date.parse(end), times.at(-1)!) : Date.now();
  const span = Math.max(1, last - times[0]!);
  return (
    <div>
      <div className="state-strip" aria-hidden>
        {states.map((s, i) => {
          const until = times[i + 1] ?? last;
          return <span key={s.id} style={{ flexGrow: Math.max((until - times[i]!) / span, 0.02), background: stateColor(s.type) }} title={`${s.name ?? s.type} ${formatTime(s.timestamp)}`} />;
        })}
      </div>
      <ol className="plain state-list">
        {states.map((s) => (
          <li key={s.id}>
            <StateBadge type={s.type} name={s.name} /> <span className="muted small">{formatTime(s.timestamp)}</span> {s.message && <span className="small">{s.message}</span>}
          </li>
        ))}
      </ol>
    </div>
  );
}

function ResumeDialog({ runId, state, onClose, onResume, busy, error }: { runId: string; state: State; onClose: () => void; onResume: (input: Record<string, unknown>) => void; busy: boolean; error: Error | null }) {
  const key = state.state_details.run_input_keyset?.["schema"] ?? "";
  const schema = useGet<JsonSchema>(`/flow_runs/${runId}/input/${encodeURIComponent(key)}`);
  return (
    <Dialog title="Resume with input" onClose={onClose}>
      <QueryState query={schema}>{schema.data && <SchemaForm schema={schema.data} initial={{}} submitLabel="Resume" onSubmit={onResume} busy={busy} error={error} />}</QueryState>
    </Dialog>
  );
}
