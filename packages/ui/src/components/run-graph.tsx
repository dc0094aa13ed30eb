import { useMemo } from "react";
import { Link } from "wouter";
import { stateColor } from "./ui";

/** A node of `GET /flow_runs/{id}/graph-v2`. */
export interface GraphNode {
  kind: "flow-run" | "task-run";
  id: string;
  label: string;
  state_type: string;
  start_time: string;
  end_time: string | null;
  parents: Array<{ id: string }>;
  children: Array<{ id: string }>;
}

export interface RunGraphData {
  start_time: string | null;
  end_time: string | null;
  root_node_ids: string[];
  nodes: Array<[string, GraphNode]>;
}

const W = 150;
const H = 30;
const GAP_X = 40;
const GAP_Y = 12;

/**
 * The task runs as a dependency graph: each node in the column after its furthest parent,
 * edges from `task_inputs`. Subflow runs link to their own page.
 */
export function RunGraph({ graph }: { graph: RunGraphData }) {
  const layout = useMemo(() => {
    const nodes = new Map(graph.nodes);
    const depth = new Map<string, number>();
    const visit = (id: string, trail: Set<string>): number => {
      const known = depth.get(id);
      if (known !== undefined) return known;
      if (trail.has(id)) return 0;
      trail.add(id);
      const parents = nodes.get(id)?.parents ?? [];
      const d = parents.length ? Math.max(...parents.filter((p) => nodes.has(p.id)).map((p) => visit(p.id, trail) + 1), 0) : 0;
      depth.set(id, d);
      return d;
    };
    for (const id of nodes.keys()) visit(id, new Set());
    const columns: string[][] = [];
    for (const [id] of graph.nodes) (columns[depth.get(id) ?? 0] ??= []).push(id);
    const position = new Map<string, { x: number; y: number }>();
    columns.forEach((column, x) => column.forEach((id, y) => position.set(id, { x: x * (W + GAP_X), y: y * (H + GAP_Y) })));
    const width = Math.max(1, columns.length) * (W + GAP_X) - GAP_X;
    const height = Math.max(1, ...columns.map((c) => c.length)) * (H + GAP_Y) - GAP_Y;
    return { nodes, position, width, height };
  }, [graph]);

  if (graph.nodes.length === 0) return <p className="empty">No task runs have started yet.</p>;
  return (
    <div className="graph">
      <svg viewBox={`-4 -4 ${layout.width + 8} ${layout.height + 8}`} width={layout.width + 8} height={layout.height + 8} role="img" aria-label="Task run graph">
        {[...layout.nodes.values()].flatMap((node) =>
          node.parents
            .filter((p) => layout.position.has(p.id))
            .map((p) => {
              const from = layout.position.get(p.id)!;
              const to = layout.position.get(node.id)!;
              return <path key={`${p.id}-${node.id}`} d={`M${from.x + W},${from.y + H / 2} C${from.x + W + GAP_X / 2},${from.y + H / 2} ${to.x - GAP_X / 2},${to.y + H / 2} ${to.x},${to.y + H / 2}`} fill="none" stroke="var(--muted)" strokeWidth={1.2} />;
            }),
        )}
        {[...layout.nodes.values()].map((node) => {
          const { x, y } = layout.position.get(node.id)!;
          const body = (
            <g transform={`translate(${x},${y})`} data-node-id={node.id}>
              <rect width={W} height={H} rx={5} fill="var(--panel)" stroke={stateColor(node.state_type)} strokeWidth={2} />
              <rect width={6} height={H} rx={2} fill={stateColor(node.state_type)} />
              <text x={12} y={H / 2 + 4}>
                {node.label.length > 20 ? `${node.label.slice(0, 19)}…` : node.label}
              </text>
              <title>
                {node.label} ({node.state_type})
              </title>
            </g>
          );
          return node.kind === "flow-run" ? (
            <Link key={node.id} href={`/runs/${node.id}`}>
              {body}
            </Link>
          ) : (
            <g key={node.id}>{body}</g>
          );
        })}
      </svg>
    </div>
  );
}

/**
 * The same runs on a time axis (a Gantt chart): one row per task run, from its start to its
 * end (or now, while it runs).
 */
export function Gantt({ items, start, end }: { items: Array<{ id: string; label: string; state_type: string | null; start_time: string | null; end_time: string | null }>; start?: string | null; end?: string | null }) {
  const now = Date.now();
  const started = items.filter((i) => i.start_time);
  if (started.length === 0) return <p className="empty">No task runs have started yet.</p>;
  const t0 = Math.min(start ? Date.parse(start) : Infinity, ...started.map((i) => Date.parse(i.start_time!)));
  const t1 = Math.max(end ? Date.parse(end) : 0, ...started.map((i) => (i.end_time ? Date.parse(i.end_time) : now)));
  const span = Math.max(1, t1 - t0);
  return (
    <div className="timeline" role="list" aria-label="Task run timeline">
      <div className="gantt-row muted small">
        <span />
        <span style={{ display: "flex", justifyContent: "space-between" }}>
          <span>0 s</span>
          <span>{((t1 - t0) / 1000).toFixed(1)} s</span>
        </span>
      </div>
      {started.map((item) => {
        const left = ((Date.parse(item.start_time!) - t0) / span) * 100;
        const width = (((item.end_time ? Date.parse(item.end_time) : now) - Date.parse(item.start_time!)) / span) * 100;
        return (
          <div className="gantt-row" key={item.id} role="listitem">
            <span className="name" title={item.label}>
              {item.label}
            </span>
            <span className="gantt-track">
              <span className="gantt-bar" style={{ left: `${left}%`, width: `${width}%`, background: stateColor(item.state_type) }} title={`${item.label}: ${item.state_type}`} />
            </span>
          </div>
        );
      })}
    </div>
  );
}
