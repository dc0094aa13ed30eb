import { InvalidInputError, type State } from "@baton/core";
import type { Selectable } from "kysely";
import type { Executor } from "../database.js";
import { fromJson } from "../json.js";
import type { FlowRunTable, TaskRunTable } from "../schema.js";
import { runTiming } from "./runs.js";

/** Largest graph served, as Prefect's PREFECT_API_MAX_FLOW_RUN_GRAPH_NODES bounds it. */
export const MAX_GRAPH_NODES = 10_000;

interface Input {
  input_type?: string;
  id?: string;
}
type TaskRunRow = Selectable<TaskRunTable>;

/** The task runs that feed each argument of `row` (its edges in the run graph), and the ones wrapping it. */
function upstream(row: TaskRunRow): { parents: string[]; encapsulating: string[] } {
  const inputs = fromJson<Record<string, Input[]>>(row.task_inputs, {});
  const parents = new Set<string>();
  const encapsulating = new Set<string>();
  for (const [name, list] of Object.entries(inputs)) {
    for (const input of list ?? []) {
      if ((input.input_type === "task_run" || input.input_type === "flow_run") && typeof input.id === "string") {
        (name === "__parents__" ? encapsulating : parents).add(input.id);
      }
    }
  }
  return { parents: [...parents], encapsulating: [...encapsulating] };
}

async function taskRunsOf(db: Executor, flowRunId: string): Promise<TaskRunRow[]> {
  const rows = await db
    .selectFrom("task_run")
    .selectAll()
    .where("flow_run_id", "=", flowRunId)
    .orderBy("expected_start_time")
    .orderBy("id")
    .limit(MAX_GRAPH_NODES + 1)
    .execute();
  if (rows.length > MAX_GRAPH_NODES) {
    throw new InvalidInputError("path.id", `the flow run has more than ${MAX_GRAPH_NODES} task runs, too many to draw as a graph`);
  }
  return rows;
}

/** `GET /flow_runs/{id}/graph`: each task run with the task runs it depends on (Prefect 2's graph). */
export async function flowRunDependencies(db: Executor, flowRunId: string) {
  const now = Date.now();
  return (await taskRunsOf(db, flowRunId)).map((row) => ({
    id: row.id,
    name: row.name,
    upstream_dependencies: upstream(row).parents.map((id) => ({ input_type: "task_run" as const, id })),
    state: fromJson<State | null>(row.state, null),
    expected_start_time: row.expected_start_time,
    start_time: row.start_time,
    end_time: row.end_time,
    total_run_time: row.total_run_time,
    estimated_run_time: runTiming(row, now).estimated_run_time,
    untrackable_result: fromJson<{ state_details?: { untrackable_result?: boolean } } | null>(row.state, null)?.state_details?.untrackable_result ?? false,
  }));
}

interface GraphNode {
  kind: "flow-run" | "task-run";
  id: string;
  label: string;
  state_type: string;
  start_time: string;
  end_time: string | null;
  parents: Array<{ id: string }>;
  children: Array<{ id: string }>;
  encapsulating: Array<{ id: string }>;
  artifacts: unknown[];
}

/**
 * `GET /flow_runs/{id}/graph-v2` (Prefect 3's graph): the run's task runs that have started, a
 * subflow shown as its own flow run in place of the task run standing for it in the parent,
 * edges from `task_inputs` (parents and their inverse, children), roots without parents, and
 * the run's states. `since` keeps only nodes still running or ended after it.
 */
export async function flowRunGraph(db: Executor, run: Selectable<FlowRunTable>, since: string | undefined) {
  const tasks = await taskRunsOf(db, run.id);
  const subflows = tasks.length
    ? await db
        .selectFrom("flow_run")
        .selectAll()
        .where("parent_task_run_id", "in", tasks.map((t) => t.id))
        .execute()
    : [];
  const subflowByTask = new Map(subflows.map((flowRun) => [flowRun.parent_task_run_id!, flowRun]));
  // A node is named by the id it is drawn with: the subflow run's id for a subflow's task run.
  const nodeId = (taskRunId: string) => subflowByTask.get(taskRunId)?.id ?? taskRunId;
  const sinceMs = since ? Date.parse(since) : undefined;

  const nodes = new Map<string, GraphNode>();
  for (const task of tasks) {
    const sub = subflowByTask.get(task.id);
    const start = sub?.start_time ?? task.start_time;
    if (!start) continue;
    const end = sub ? sub.end_time : task.end_time;
    if (sinceMs !== undefined && end !== null && Date.parse(end) < sinceMs) continue;
    const edges = upstream(task);
    nodes.set(nodeId(task.id), {
      kind: sub ? "flow-run" : "task-run",
      id: nodeId(task.id),
      label: sub?.name ?? task.name,
      state_type: (sub ?? task).state_type ?? "PENDING",
      start_time: start,
      end_time: end,
      parents: edges.parents.map((id) => ({ id: nodeId(id) })),
      children: [],
      encapsulating: edges.encapsulating.map((id) => ({ id: nodeId(id) })),
      artifacts: [],
    });
  }
  for (const node of nodes.values()) {
    node.parents = node.parents.filter((parent) => nodes.has(parent.id));
    node.encapsulating = node.encapsulating.filter((parent) => nodes.has(parent.id));
    for (const parent of node.parents) nodes.get(parent.id)!.children.push({ id: node.id });
  }
  const states = await db
    .selectFrom("flow_run_state")
    .select(["id", "timestamp", "type", "name"])
    .where("run_id", "=", run.id)
    .orderBy("timestamp")
    .execute();
  return {
    start_time: run.start_time,
    end_time: run.end_time,
    root_node_ids: [...nodes.values()].filter((node) => node.parents.length === 0).map((node) => node.id),
    nodes: [...nodes.entries()],
    artifacts: [],
    states: states.map((state) => ({ id: state.id, timestamp: state.timestamp, type: state.type, name: state.name ?? state.type })),
  };
}
