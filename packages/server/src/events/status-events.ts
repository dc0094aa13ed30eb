import { randomUUID } from "node:crypto";
import type { Database } from "../db/database.js";
import { emitEvents, type EmittedEvent, type EventStream } from "./event-stream.js";

type Labels = Record<string, string>;

/**
 * The status changes one request or one service pass made, collected where the rows are
 * written (the query functions take a `StatusChanges` and add to it) and published as
 * Prefect's events once they are committed:
 *
 * - `prefect.work-pool.ready` / `.not-ready` / `.paused` about `prefect.work-pool.<id>`
 * - `prefect.work-queue.ready` / `.not-ready` / `.paused` about `prefect.work-queue.<id>`, related to its pool
 * - `prefect.deployment.ready` / `.not-ready` about `prefect.deployment.<id>`, related to its flow, queue and pool
 * - `prefect.worker.online` / `.offline` about `prefect.worker.<pool type>.<worker name>`, related to its pool
 */
export class StatusChanges {
  readonly pools = new Set<string>();
  readonly queues = new Set<string>();
  readonly deployments = new Set<string>();
  readonly workers = new Set<string>();

  pool(id: string): void {
    this.pools.add(id);
  }
  queue(id: string): void {
    this.queues.add(id);
  }
  deployment(id: string): void {
    this.deployments.add(id);
  }
  worker(id: string): void {
    this.workers.add(id);
  }

  get size(): number {
    return this.pools.size + this.queues.size + this.deployments.size + this.workers.size;
  }

  /**
   * Publishes an event for each changed object, with the status it has now. The changes are
   * committed already, so a failure is logged rather than thrown.
   */
  async emit(db: Database, stream: EventStream | undefined, log?: (error: unknown) => void): Promise<void> {
    if (!stream || this.size === 0) return;
    try {
      const events = await statusEvents(db, this);
      await emitEvents(stream, events);
    } catch (error) {
      log?.(error);
    }
  }
}

/** `NOT_READY` -> `not-ready`, as Prefect's `in_kebab_case()`. */
function kebab(status: string): string {
  return status.toLowerCase().replace(/_/g, "-");
}

function poolResource(pool: { id: string; name: string; type: string }, role?: string): Labels {
  const labels: Labels = { "prefect.resource.id": `prefect.work-pool.${pool.id}`, "prefect.resource.name": pool.name, "prefect.work-pool.type": pool.type };
  if (role) labels["prefect.resource.role"] = role;
  return labels;
}

async function statusEvents(db: Database, changes: StatusChanges): Promise<EmittedEvent[]> {
  const k = db.kysely;
  const occurred = new Date().toISOString();
  const events: EmittedEvent[] = [];
  if (changes.pools.size > 0) {
    const pools = await k.selectFrom("work_pool").select(["id", "name", "type", "status"]).where("id", "in", [...changes.pools]).execute();
    for (const pool of pools) {
      if (!pool.status) continue;
      events.push({ id: randomUUID(), occurred, event: `prefect.work-pool.${kebab(pool.status)}`, resource: poolResource(pool) });
    }
  }
  if (changes.queues.size > 0) {
    const queues = await k
      .selectFrom("work_queue as q")
      .innerJoin("work_pool as p", "p.id", "q.work_pool_id")
      .select(["q.id", "q.name", "q.status", "p.id as pool_id", "p.name as pool_name", "p.type as pool_type"])
      .where("q.id", "in", [...changes.queues])
      .execute();
    for (const q of queues) {
      if (!q.status) continue;
      events.push({
        id: randomUUID(),
        occurred,
        event: `prefect.work-queue.${kebab(q.status)}`,
        resource: { "prefect.resource.id": `prefect.work-queue.${q.id}`, "prefect.resource.name": q.name, "prefect.resource.role": "work-queue" },
        related: [poolResource({ id: q.pool_id, name: q.pool_name, type: q.pool_type }, "work-pool")],
      });
    }
  }
  if (changes.deployments.size > 0) {
    const deployments = await k
      .selectFrom("deployment as d")
      .innerJoin("flow as f", "f.id", "d.flow_id")
      .leftJoin("work_queue as q", "q.id", "d.work_queue_id")
      .leftJoin("work_pool as p", "p.id", "q.work_pool_id")
      .select(["d.id", "d.name", "d.status", "f.id as flow_id", "f.name as flow_name", "q.id as queue_id", "q.name as queue_name", "p.id as pool_id", "p.name as pool_name", "p.type as pool_type"])
      .where("d.id", "in", [...changes.deployments])
      .execute();
    for (const d of deployments) {
      if (!d.status) continue;
      const related: Labels[] = [{ "prefect.resource.id": `prefect.flow.${d.flow_id}`, "prefect.resource.name": d.flow_name, "prefect.resource.role": "flow" }];
      if (d.queue_id) related.push({ "prefect.resource.id": `prefect.work-queue.${d.queue_id}`, "prefect.resource.name": d.queue_name ?? "", "prefect.resource.role": "work-queue" });
      if (d.pool_id) related.push(poolResource({ id: d.pool_id, name: d.pool_name ?? "", type: d.pool_type ?? "" }, "work-pool"));
      events.push({
        id: randomUUID(),
        occurred,
        event: `prefect.deployment.${kebab(d.status)}`,
        resource: { "prefect.resource.id": `prefect.deployment.${d.id}`, "prefect.resource.name": d.name },
        related,
      });
    }
  }
  if (changes.workers.size > 0) {
    const workers = await k
      .selectFrom("worker as w")
      .innerJoin("work_pool as p", "p.id", "w.work_pool_id")
      .select(["w.id", "w.name", "w.status", "p.id as pool_id", "p.name as pool_name", "p.type as pool_type"])
      .where("w.id", "in", [...changes.workers])
      .execute();
    for (const w of workers) {
      events.push({
        id: randomUUID(),
        occurred,
        event: `prefect.worker.${kebab(w.status)}`,
        resource: { "prefect.resource.id": `prefect.worker.${w.pool_type}.${w.name}`, "prefect.resource.name": w.name, "prefect.worker-type": w.pool_type },
        related: [poolResource({ id: w.pool_id, name: w.pool_name, type: w.pool_type }, "work-pool")],
      });
    }
  }
  return events;
}
