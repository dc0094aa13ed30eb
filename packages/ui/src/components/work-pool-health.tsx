import { Link } from "wouter";
import type { WorkPool, Worker } from "@baton/core";
import { usePost } from "../queries";
import { Time } from "./ui";

export function poolDot(pool: WorkPool): string {
  if (pool.is_paused || pool.status === "PAUSED") return "dot paused";
  return pool.status === "READY" ? "dot ok" : "dot bad";
}

export function poolStatus(pool: WorkPool): string {
  if (pool.is_paused || pool.status === "PAUSED") return "Paused";
  return pool.status === "READY" ? "Ready" : "Not ready (no worker online)";
}

/** One pool's line: status, workers online, slots in use. */
export function PoolHealthRow({ pool }: { pool: WorkPool }) {
  const workers = usePost<Worker[]>(`/work_pools/${encodeURIComponent(pool.name)}/workers/filter`, { limit: 200 }, { refetchInterval: 10_000 });
  const online = workers.data?.filter((w) => w.status === "ONLINE").length ?? 0;
  const newest = workers.data?.map((w) => w.last_heartbeat_time).filter(Boolean).sort().at(-1);
  return (
    <tr data-pool={pool.name}>
      <td>
        <span className="pool-health">
          <span className={poolDot(pool)} aria-hidden /> <Link href={`/work-pools/${encodeURIComponent(pool.name)}`}>{pool.name}</Link>
        </span>
      </td>
      <td>{poolStatus(pool)}</td>
      <td>
        {workers.data ? `${online} of ${workers.data.length} online` : "…"}
        {newest && (
          <span className="muted small hide-phone">
            {" "}
            · last beat <Time iso={newest} />
          </span>
        )}
      </td>
      <td>{pool.concurrency_limit === null ? <span className="muted">no limit</span> : `${pool.active_slots ?? 0} / ${pool.concurrency_limit}`}</td>
    </tr>
  );
}

export function PoolHealthTable({ pools }: { pools: WorkPool[] }) {
  return (
    <div className="table-wrap">
      <table>
        <thead>
          <tr>
            <th>Work pool</th>
            <th>Status</th>
            <th>Workers</th>
            <th>Slots</th>
          </tr>
        </thead>
        <tbody>
          {pools.map((pool) => (
            <PoolHealthRow key={pool.id} pool={pool} />
          ))}
        </tbody>
      </table>
    </div>
  );
}
