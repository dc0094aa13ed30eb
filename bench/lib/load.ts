import { performance } from "node:perf_hooks";
import type { JsonClient } from "./http-client.js";

export type Phase = "warmup" | "measure" | "drain";

/**
 * What the clients did. Throughput and latency count only what finished while `phase` was
 * "measure"; creations, errors and refusals are counted in every phase, since each one
 * matters to the correctness check and none may be hidden.
 */
export class LoadStats {
  phase: Phase = "warmup";
  /** Flow runs created (any phase); each must end COMPLETED. */
  flowRunsCreated = 0;
  taskRunsCreated = 0;
  /** Flow runs whose lifecycle stopped early on an error or a refusal (any phase). */
  abandoned = 0;
  /** Measured figures. */
  runsCompleted = 0;
  accepted = 0;
  requests = 0;
  readonly setStateMs: number[] = [];
  readonly createMs: number[] = [];
  /** Any phase: "flow_run RUNNING -> REJECT" and the like. */
  readonly nonAccept = new Map<string, number>();
  /** Any phase: "POST /flow_runs/{id}/set_state -> HTTP 500", "... -> ECONNRESET". */
  readonly httpErrors = new Map<string, number>();
  readonly errorSamples: string[] = [];
  /** Measured-run tickets handed out (with `--runs`). */
  ticketsIssued = 0;

  get measuring(): boolean {
    return this.phase === "measure";
  }

  countHttpError(key: string, sample: string): void {
    this.httpErrors.set(key, (this.httpErrors.get(key) ?? 0) + 1);
    if (this.errorSamples.length < 5) this.errorSamples.push(`${key}: ${sample.slice(0, 300)}`);
  }

  countNonAccept(key: string): void {
    this.nonAccept.set(key, (this.nonAccept.get(key) ?? 0) + 1);
  }
}

export interface LoadPlan {
  clients: number;
  tasks: number;
  flowId: string;
  /** With `--runs`: how many lifecycles to start once measuring. */
  runs: number | undefined;
}

type RunKind = "flow_run" | "task_run";
const ROUTE = { flow_run: "/flow_runs", task_run: "/task_runs" } as const;

/**
 * Runs `plan.clients` loops, each driving one flow run at a time through
 * SCHEDULED -> PENDING -> RUNNING -> (its task runs) -> COMPLETED, until the phase becomes
 * "drain" (duration mode) or the run tickets are used up (`--runs`).
 */
export async function runClients(client: JsonClient, plan: LoadPlan, stats: LoadStats): Promise<void> {
  const loop = async (): Promise<void> => {
    while (stats.phase !== "drain") {
      const ticketed = plan.runs !== undefined && stats.measuring;
      if (ticketed) {
        if (stats.ticketsIssued >= plan.runs!) return;
        stats.ticketsIssued += 1;
      }
      await lifecycle(client, plan, stats, ticketed);
    }
  };
  await Promise.all(Array.from({ length: plan.clients }, loop));
}

/** `ticketed`: with `--runs`, one of the N measured runs (others started during warm-up). */
async function lifecycle(client: JsonClient, plan: LoadPlan, stats: LoadStats, ticketed: boolean): Promise<void> {
  const run = await call(client, stats, "/flow_runs/", "POST /flow_runs/", { flow_id: plan.flowId, state: { type: "SCHEDULED" } }, stats.createMs);
  if (!run) return;
  stats.flowRunsCreated += 1;
  const ok =
    (await setState(client, stats, "flow_run", run.id, "PENDING")) &&
    (await setState(client, stats, "flow_run", run.id, "RUNNING")) &&
    (await runTasks(client, plan, stats, run.id)) &&
    (await setState(client, stats, "flow_run", run.id, "COMPLETED"));
  if (!ok) {
    stats.abandoned += 1;
    return;
  }
  if (plan.runs === undefined ? stats.measuring : ticketed) stats.runsCompleted += 1;
}

async function runTasks(client: JsonClient, plan: LoadPlan, stats: LoadStats, flowRunId: string): Promise<boolean> {
  for (let i = 0; i < plan.tasks; i++) {
    const task = await call(
      client,
      stats,
      "/task_runs/",
      "POST /task_runs/",
      { flow_run_id: flowRunId, task_key: "bench-task", dynamic_key: String(i) },
      stats.createMs,
    );
    if (!task) return false;
    stats.taskRunsCreated += 1;
    if (!(await setState(client, stats, "task_run", task.id, "RUNNING"))) return false;
    if (!(await setState(client, stats, "task_run", task.id, "COMPLETED"))) return false;
  }
  return true;
}

async function setState(client: JsonClient, stats: LoadStats, kind: RunKind, id: string, type: string): Promise<boolean> {
  const route = `POST ${ROUTE[kind]}/{id}/set_state`;
  const result = await call(client, stats, `${ROUTE[kind]}/${id}/set_state`, route, { state: { type } }, stats.setStateMs);
  if (!result) return false;
  if (result.status === "ACCEPT") {
    if (stats.measuring) stats.accepted += 1;
    return true;
  }
  stats.countNonAccept(`${kind} -> ${type}: ${String(result.status)}`);
  return false;
}

interface Answer {
  id: string;
  status?: unknown;
}

/** One request; a non-2xx answer or a network error is counted and yields undefined. */
async function call(client: JsonClient, stats: LoadStats, path: string, route: string, body: unknown, latencies: number[]): Promise<Answer | undefined> {
  const measured = stats.measuring;
  const started = performance.now();
  let response;
  try {
    response = await client.post(path, body);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
    stats.countHttpError(`${route} -> ${code}`, String(error));
    return undefined;
  }
  const elapsed = performance.now() - started;
  // A request counts only if it both started and finished inside the measured window.
  if (measured && stats.measuring) {
    stats.requests += 1;
    latencies.push(elapsed);
  }
  if (response.status < 200 || response.status > 299) {
    stats.countHttpError(`${route} -> HTTP ${response.status}`, response.text);
    return undefined;
  }
  if (typeof response.body !== "object" || response.body === null) {
    stats.countHttpError(`${route} -> HTTP ${response.status} without a JSON object`, response.text);
    return undefined;
  }
  return response.body as Answer;
}
