import { Link } from "wouter";
import { useMutation } from "@tanstack/react-query";
import type { WorkPool, WorkPoolConcurrencyStatus, WorkQueue, Worker } from "@baton/core";
import { api } from "../api";
import { LIVE_MS, useGet, usePost } from "../queries";
import { useRefresh } from "../components/actions";
import { ListTable } from "../components/list-table";
import { poolDot, poolStatus } from "../components/work-pool-health";
import { ErrorBox, Fields, Json, PageHeader, QueryState, StateBadge, Time, formatDuration, titleCase } from "../components/ui";

export default function WorkPoolPage({ name }: { name: string }) {
  const pool = decodeURIComponent(name);
  const base = `/work_pools/${encodeURIComponent(pool)}`;
  const detail = useGet<WorkPool>(base, { refetchInterval: LIVE_MS });
  const queues = usePost<WorkQueue[]>(`${base}/queues/filter`, { limit: 200 }, { refetchInterval: LIVE_MS });
  const workers = usePost<Worker[]>(`${base}/workers/filter`, { limit: 200 }, { refetchInterval: LIVE_MS });
  const concurrency = usePost<WorkPoolConcurrencyStatus>(`${base}/concurrency_status`, {}, { refetchInterval: LIVE_MS });
  const refresh = useRefresh((path) => path.startsWith(base));
  const pause = useMutation({ mutationFn: (paused: boolean) => api("PATCH", base, { is_paused: paused }), onSuccess: refresh });
  const pauseQueue = useMutation({ mutationFn: (queue: WorkQueue) => api("PATCH", `${base}/queues/${encodeURIComponent(queue.name)}`, { is_paused: !queue.is_paused }), onSuccess: refresh });
  const holders = concurrency.data?.queues.flatMap((q) => q.flow_runs) ?? [];
  const p = detail.data;
  return (
    <QueryState query={detail}>
      {p && (
        <>
          <PageHeader
            title={
              <span className="pool-health">
                <span className={poolDot(p)} aria-hidden /> {p.name}
              </span>
            }
            crumbs={[["Work pools", "/work-pools"]]}
          >
            <button onClick={() => pause.mutate(!p.is_paused)} disabled={pause.isPending}>
              {p.is_paused ? "Resume pool" : "Pause pool"}
            </button>
          </PageHeader>
          {(pause.error ?? pauseQueue.error) && <ErrorBox error={(pause.error ?? pauseQueue.error)!} />}
          <Fields
            items={[
              ["Status", poolStatus(p)],
              ["Type", p.type],
              ["Concurrency", p.concurrency_limit === null ? "no limit" : `${concurrency.data?.active_slots ?? p.active_slots ?? 0} of ${p.concurrency_limit} slots in use`],
              ["Description", p.description],
            ]}
          />
          <h2>Workers</h2>
          <ListTable
            query={workers}
            empty={"No worker has polled this pool. Start one with `baton worker start --pool " + p.name + "`."}
            rowKey={(w) => w.id}
            rowProps={(w) => ({ "data-worker": w.name })}
            columns={[
              { header: "Worker", cell: (w) => w.name },
              {
                header: "Status",
                cell: (w) => (
                  <>
                    <span className={w.status === "ONLINE" ? "dot ok" : "dot bad"} aria-hidden /> {titleCase(w.status)}
                  </>
                ),
              },
              { header: "Last heartbeat", cell: (w) => <Time iso={w.last_heartbeat_time} /> },
              { header: "Heartbeat interval", className: "hide-phone", cell: (w) => (w.heartbeat_interval_seconds ? formatDuration(w.heartbeat_interval_seconds) : "—") },
            ]}
          />
          <h2>Queues</h2>
          <ListTable
            query={queues}
            empty="No queues."
            rowKey={(q) => q.id}
            rowProps={(q) => ({ "data-queue": q.name })}
            columns={[
              { header: "Queue", cell: (q) => q.name },
              { header: "Priority", cell: (q) => q.priority },
              { header: "Status", cell: (q) => (q.is_paused ? "Paused" : titleCase(q.status ?? "unknown")) },
              {
                header: "Slots",
                cell: (q) => {
                  const slots = concurrency.data?.queues.find((c) => c.queue_id === q.id);
                  return q.concurrency_limit === null ? `${slots?.active_slots ?? 0} (no limit)` : `${slots?.active_slots ?? 0} / ${q.concurrency_limit}`;
                },
              },
              { cell: (q) => <button onClick={() => pauseQueue.mutate(q)}>{q.is_paused ? "Resume" : "Pause"}</button> },
            ]}
          />
          <h2>Runs holding a slot</h2>
          <QueryState query={concurrency} empty={holders.length === 0 && "No run holds a slot of this pool."}>
            <ul className="plain">
              {holders.map((r) => (
                <li key={r.id}>
                  <StateBadge type={r.state_type} name={r.state_name} /> <Link href={`/runs/${r.id}`}>{r.name}</Link> <span className="muted small">for {formatDuration(r.time_in_current_state)}</span>
                </li>
              ))}
            </ul>
          </QueryState>
          <h2>Base job template</h2>
          <Json value={p.base_job_template} />
        </>
      )}
    </QueryState>
  );
}
