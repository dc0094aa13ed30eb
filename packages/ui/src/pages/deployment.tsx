import { useState } from "react";
import { Link, useLocation } from "wouter";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import type { Deployment, DeploymentSchedule, Flow, FlowRun } from "@baton/core";
import { api, post } from "../api";
import { LIVE_MS, useGet, usePost } from "../queries";
import { Dialog } from "../components/dialog";
import { RunsTable } from "../components/runs-table";
import { SchemaForm, schemaFromValues, type JsonSchema } from "../components/schema-form";
import { describeSchedule } from "../components/schedule";
import { ErrorBox, Fields, Json, PageHeader, QueryState, Tags, Toggle, formatTime } from "../components/ui";

export default function DeploymentPage({ id }: { id: string }) {
  const [, navigate] = useLocation();
  const queryClient = useQueryClient();
  const deployment = useGet<Deployment>(`/deployments/${id}`);
  const flow = useGet<Flow>(`/flows/${deployment.data?.flow_id}`, { enabled: Boolean(deployment.data) });
  const runs = usePost<FlowRun[]>("/flow_runs/filter", { flow_runs: { deployment_id: { any_: [id] } }, sort: "EXPECTED_START_TIME_DESC", limit: 20 }, { refetchInterval: LIVE_MS });
  const [runOpen, setRunOpen] = useState(() => new URLSearchParams(window.location.search).has("run"));
  const refresh = () => queryClient.invalidateQueries({ predicate: (q) => String(q.queryKey[0]).startsWith(`/deployments/${id}`) || q.queryKey[0] === "/flow_runs/filter" });

  const run = useMutation({
    mutationFn: (parameters: Record<string, unknown>) => post<FlowRun>(`/deployments/${id}/create_flow_run`, { parameters }),
    onSuccess: (created) => navigate(`/runs/${created.id}`),
  });
  const pause = useMutation({
    mutationFn: (paused: boolean) => post(`/deployments/${id}/${paused ? "pause_deployment" : "resume_deployment"}`),
    onSuccess: refresh,
  });
  const toggleSchedule = useMutation({
    mutationFn: (schedule: DeploymentSchedule) => api("PATCH", `/deployments/${id}/schedules/${schedule.id}`, { active: !schedule.active }),
    onSuccess: refresh,
  });

  const d = deployment.data;
  const schema = (d?.parameter_openapi_schema as JsonSchema | null) ?? null;
  const formSchema = schema && schema.properties && Object.keys(schema.properties).length ? schema : schemaFromValues(d?.parameters ?? {});
  return (
    <QueryState query={deployment}>
      {d && (
        <>
          <PageHeader
            title={d.name}
            crumbs={[
              ["Deployments", "/deployments"],
              [flow.data?.name ?? "flow", `/flows/${d.flow_id}`],
            ]}
          >
            <button onClick={() => pause.mutate(!d.paused)} disabled={pause.isPending}>
              {d.paused ? "Resume" : "Pause"}
            </button>
            <button className="primary" onClick={() => setRunOpen(true)}>
              Run
            </button>
          </PageHeader>
          {(pause.error || toggleSchedule.error) && <ErrorBox error={(pause.error ?? toggleSchedule.error)!} />}
          {d.description && <p>{d.description}</p>}
          <Fields
            items={[
              ["Flow", <Link href={`/flows/${d.flow_id}`}>{flow.data?.name ?? "…"}</Link>],
              ["Status", d.paused ? "Paused" : d.status === "READY" ? "Ready" : "Not ready"],
              ["Work pool", d.work_pool_name ? <Link href={`/work-pools/${encodeURIComponent(d.work_pool_name)}`}>{d.work_pool_name}</Link> : null],
              ["Work queue", d.work_queue_name],
              ["Entrypoint", d.entrypoint && <code>{d.entrypoint}</code>],
              ["Concurrency limit", d.concurrency_limit],
              ["Version", d.version],
              ["Last polled", d.last_polled && formatTime(d.last_polled)],
              ["Tags", <Tags tags={d.tags} />],
            ]}
          />
          <h2>Schedules</h2>
          {d.schedules.length === 0 ? (
            <p className="muted">No schedules: runs start only when asked.</p>
          ) : (
            <ul className="plain">
              {d.schedules.map((s) => (
                <li key={s.id}>
                  <label className="check">
                    <Toggle checked={s.active} onToggle={() => toggleSchedule.mutateAsync(s)} label={`Schedule ${describeSchedule(s.schedule)} active`} /> {describeSchedule(s.schedule)}
                  </label>
                </li>
              ))}
            </ul>
          )}
          <h2>Default parameters</h2>
          <Json value={d.parameters} />
          <h2>Runs</h2>
          <QueryState query={runs} empty={runs.data?.length === 0 && "No runs yet."}>
            {runs.data && <RunsTable runs={runs.data} showFlow={false} />}
          </QueryState>
          {runOpen && (
            <Dialog title={`Run ${d.name}`} onClose={() => setRunOpen(false)}>
              <SchemaForm schema={formSchema} initial={d.parameters} submitLabel="Start run" onSubmit={(values) => run.mutate(values)} busy={run.isPending} error={run.error} />
            </Dialog>
          )}
        </>
      )}
    </QueryState>
  );
}
