import type { State } from "@baton/core";
import type { Selectable } from "kysely";
import type { Database } from "../db/database.js";
import { fromJson } from "../db/json.js";
import type { FlowRunTable, TaskRunTable } from "../db/schema.js";
import { emitEvents, type EmittedEvent, type EventStream } from "./event-stream.js";

/** As Prefect: state messages are cut here so that an event stays a reasonable size. */
const TRUNCATE_STATE_MESSAGES_AT = 100_000;
/** Consecutive state events are linked by `follows` only when this close in time (as Prefect). */
const TIGHT_TIMING_MS = 5 * 60_000;
/** Related resources of a flow run are read once and kept this long (Prefect's related-resource cache). */
const RELATED_TTL_MS = 5 * 60_000;
const RELATED_MAX = 5000;

type Labels = Record<string, string>;

interface RunResources {
  /** flow, deployment, work queue, work pool, parent task run: each a related resource. */
  related: Labels[];
  /** Tags of the flow run, flow and deployment. */
  tags: string[];
}

/**
 * Flow run id -> its related resources, as Prefect caches them: a run's flow, deployment,
 * queue and pool do not change while it runs, so a state change costs no extra query. The ids
 * are UUIDs, so one cache serves every database this process opens.
 */
const relatedCache = new Map<string, { at: number; resources: RunResources }>();

export interface RunStateChange {
  kind: "flow_run" | "task_run";
  /** The run's row as it is after the change (its run count counts the new attempt). */
  row: Selectable<FlowRunTable> | Selectable<TaskRunTable>;
  initial: State | null;
  validated: State;
}

/**
 * Publishes `prefect.flow-run.<State name>` / `prefect.task-run.<State name>` for state
 * changes that were written, shaped as Prefect's server shapes them: the state in the
 * resource's labels, the run's flow, deployment, work queue, work pool, parent task run and
 * tags as related resources, `intended` / `initial_state` / `validated_state` in the payload,
 * the new state's id as the event's id and the previous state's as `follows`.
 *
 * The state change is already committed, so a failure to publish is logged, not thrown.
 */
export async function emitRunStateChanges(db: Database, stream: EventStream | undefined, changes: readonly RunStateChange[], log?: (error: unknown) => void): Promise<void> {
  if (!stream || changes.length === 0) return;
  try {
    const events: EmittedEvent[] = [];
    for (const change of changes) events.push(await stateChangeEvent(db, change));
    await emitEvents(stream, events);
  } catch (error) {
    log?.(error);
  }
}

async function stateChangeEvent(db: Database, { kind, row, initial, validated }: RunStateChange): Promise<EmittedEvent> {
  const prefix = kind === "flow_run" ? "prefect.flow-run" : "prefect.task-run";
  const name = validated.name ?? titleCase(validated.type);
  const occurred = validated.timestamp;
  const resource: Labels = {
    "prefect.resource.id": `${prefix}.${row.id}`,
    "prefect.resource.name": row.name ?? "",
    "prefect.run-count": String(row.run_count),
    "prefect.state-message": (validated.message ?? "").slice(0, TRUNCATE_STATE_MESSAGES_AT),
    "prefect.state-name": name,
    "prefect.state-timestamp": validated.timestamp,
    "prefect.state-type": validated.type,
  };
  const ownTags = fromJson<string[]>(row.tags, []);
  let related: Labels[];
  if (kind === "flow_run") {
    const resources = await flowRunResources(db, row as Selectable<FlowRunTable>);
    related = [...resources.related.filter((r) => r["prefect.resource.role"] !== "flow-run"), ...tagResources([...ownTags, ...resources.tags])];
  } else {
    const flowRunId = (row as Selectable<TaskRunTable>).flow_run_id;
    const resources = flowRunId ? await flowRunResources(db, flowRunId) : undefined;
    related = resources
      ? [...resources.related.filter((r) => r["prefect.resource.role"] !== "task-run"), ...tagResources([...ownTags, ...resources.tags])]
      : tagResources(ownTags);
  }
  const tight = initial !== null && Math.abs(Date.parse(occurred) - Date.parse(initial.timestamp)) < TIGHT_TIMING_MS;
  return {
    id: validated.id,
    occurred,
    event: `${prefix}.${name}`,
    resource,
    related,
    payload: {
      intended: { from: initial?.type ?? null, to: validated.type },
      initial_state: statePayload(initial),
      validated_state: statePayload(validated),
    },
    follows: tight ? initial.id : null,
  };
}

function statePayload(state: State | null): Record<string, string> | null {
  if (!state) return null;
  const payload: Record<string, string> = { type: state.type };
  if (state.name) payload.name = state.name;
  if (state.message) payload.message = state.message.slice(0, TRUNCATE_STATE_MESSAGES_AT);
  if (state.type === "PAUSED") payload.pause_reschedule = String(state.state_details.pause_reschedule ?? false);
  return payload;
}

function tagResources(tags: readonly string[]): Labels[] {
  return [...new Set(tags)].sort().map((tag) => ({ "prefect.resource.id": `prefect.tag.${tag}`, "prefect.resource.role": "tag" }));
}

function titleCase(type: string): string {
  return type.charAt(0) + type.slice(1).toLowerCase();
}

/**
 * The resources a flow run's events relate to (the run itself included, for its task runs'
 * events), from the cache or one query joining them.
 */
async function flowRunResources(db: Database, run: Selectable<FlowRunTable> | string): Promise<RunResources> {
  const id = typeof run === "string" ? run : run.id;
  const cached = relatedCache.get(id);
  const now = Date.now();
  if (cached && now - cached.at < RELATED_TTL_MS) return cached.resources;
  const row = await db.kysely
    .selectFrom("flow_run as fr")
    .innerJoin("flow as f", "f.id", "fr.flow_id")
    .leftJoin("deployment as d", "d.id", "fr.deployment_id")
    .leftJoin("work_queue as wq", "wq.id", "fr.work_queue_id")
    .leftJoin("work_pool as wp", "wp.id", "wq.work_pool_id")
    .leftJoin("task_run as tr", "tr.id", "fr.parent_task_run_id")
    .select([
      "fr.id as run_id",
      "fr.name as run_name",
      "fr.tags as run_tags",
      "f.id as flow_id",
      "f.name as flow_name",
      "f.tags as flow_tags",
      "d.id as deployment_id",
      "d.name as deployment_name",
      "d.tags as deployment_tags",
      "wq.id as queue_id",
      "wq.name as queue_name",
      "wp.id as pool_id",
      "wp.name as pool_name",
      "wp.type as pool_type",
      "tr.id as task_run_id",
      "tr.name as task_run_name",
      "tr.tags as task_run_tags",
    ])
    .where("fr.id", "=", id)
    .executeTakeFirst();
  if (!row) return { related: [], tags: [] };
  const related: Labels[] = [
    { "prefect.resource.id": `prefect.flow-run.${row.run_id}`, "prefect.resource.role": "flow-run", "prefect.resource.name": row.run_name },
    { "prefect.resource.id": `prefect.flow.${row.flow_id}`, "prefect.resource.role": "flow", "prefect.resource.name": row.flow_name },
  ];
  const tags = [...fromJson<string[]>(row.run_tags, []), ...fromJson<string[]>(row.flow_tags, [])];
  if (row.deployment_id) {
    related.push({ "prefect.resource.id": `prefect.deployment.${row.deployment_id}`, "prefect.resource.role": "deployment", "prefect.resource.name": row.deployment_name ?? "" });
    tags.push(...fromJson<string[]>(row.deployment_tags ?? null, []));
  }
  if (row.queue_id) related.push({ "prefect.resource.id": `prefect.work-queue.${row.queue_id}`, "prefect.resource.role": "work-queue", "prefect.resource.name": row.queue_name ?? "" });
  if (row.pool_id) {
    related.push({ "prefect.resource.id": `prefect.work-pool.${row.pool_id}`, "prefect.resource.role": "work-pool", "prefect.resource.name": row.pool_name ?? "", "prefect.work-pool.type": row.pool_type ?? "" });
  }
  if (row.task_run_id) {
    related.push({ "prefect.resource.id": `prefect.task-run.${row.task_run_id}`, "prefect.resource.role": "task-run", "prefect.resource.name": row.task_run_name ?? "" });
    tags.push(...fromJson<string[]>(row.task_run_tags ?? null, []));
  }
  const resources = { related, tags };
  if (relatedCache.size >= RELATED_MAX) {
    // Oldest first: a Map iterates in insertion order.
    for (const key of relatedCache.keys()) {
      relatedCache.delete(key);
      if (relatedCache.size < RELATED_MAX * 0.9) break;
    }
  }
  relatedCache.set(id, { at: now, resources });
  return resources;
}
