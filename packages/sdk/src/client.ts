import {
  ApiError,
  ServerUnreachableError,
  type Deployment,
  type Flow,
  type FlowRun,
  type FlowRunCreate,
  type Log,
  type LogCreate,
  type OrchestrationResult,
  type State,
  type StateCreate,
  type TaskRun,
  type TaskRunCreate,
} from "@baton/core";

export interface BatonClientOptions {
  /** Base URL of the API, ending in `/api` (for example `http://127.0.0.1:4200/api`). */
  apiUrl: string;
  /** Per-request timeout in milliseconds (default 30 s). */
  timeoutMs?: number;
}

/**
 * Typed HTTP client for Baton's (and Prefect's) REST API. Every Baton package that talks to
 * a server goes through this class; status codes come back as `ApiError` with the server's
 * message, and a connection failure as `ServerUnreachableError` naming the URL.
 *
 * @example
 * const client = new BatonClient({ apiUrl: "http://127.0.0.1:4200/api" });
 * const runs = await client.filterFlowRuns({ limit: 10 });
 */
export class BatonClient {
  readonly apiUrl: string;
  private readonly timeoutMs: number;

  constructor(options: BatonClientOptions) {
    this.apiUrl = options.apiUrl.replace(/\/+$/, "");
    this.timeoutMs = options.timeoutMs ?? 30_000;
  }

  /** Sends one request and returns the parsed JSON body (or `undefined` for 204). */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.apiUrl}${path}`;
    let response: Response;
    try {
      response = await fetch(url, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      throw new ServerUnreachableError(this.apiUrl, cause?.code ?? cause?.message ?? String(error));
    }
    const text = await response.text();
    if (!response.ok) {
      throw new ApiError(response.status, method, url, errorDetail(text));
    }
    return (text.length > 0 ? JSON.parse(text) : undefined) as T;
  }

  health(): Promise<boolean> {
    return this.request<boolean>("GET", "/health");
  }

  // flows
  createFlow(body: { name: string; tags?: string[] }): Promise<Flow> {
    return this.request("POST", "/flows/", body);
  }
  readFlow(id: string): Promise<Flow> {
    return this.request("GET", `/flows/${id}`);
  }
  filterFlows(body: Record<string, unknown> = {}): Promise<Flow[]> {
    return this.request("POST", "/flows/filter", body);
  }

  // flow runs
  createFlowRun(body: FlowRunCreate): Promise<FlowRun> {
    return this.request("POST", "/flow_runs/", body);
  }
  readFlowRun(id: string): Promise<FlowRun> {
    return this.request("GET", `/flow_runs/${id}`);
  }
  updateFlowRun(id: string, body: Record<string, unknown>): Promise<void> {
    return this.request("PATCH", `/flow_runs/${id}`, body);
  }
  filterFlowRuns(body: Record<string, unknown> = {}): Promise<FlowRun[]> {
    return this.request("POST", "/flow_runs/filter", body);
  }
  setFlowRunState(id: string, state: StateCreate, force = false): Promise<OrchestrationResult> {
    return this.request("POST", `/flow_runs/${id}/set_state`, { state, force });
  }
  readFlowRunStates(flowRunId: string): Promise<State[]> {
    return this.request("GET", `/flow_run_states/?flow_run_id=${encodeURIComponent(flowRunId)}`);
  }

  // task runs
  createTaskRun(body: TaskRunCreate): Promise<TaskRun> {
    return this.request("POST", "/task_runs/", body);
  }
  readTaskRun(id: string): Promise<TaskRun> {
    return this.request("GET", `/task_runs/${id}`);
  }
  filterTaskRuns(body: Record<string, unknown> = {}): Promise<TaskRun[]> {
    return this.request("POST", "/task_runs/filter", body);
  }
  setTaskRunState(id: string, state: StateCreate, force = false): Promise<OrchestrationResult> {
    return this.request("POST", `/task_runs/${id}/set_state`, { state, force });
  }
  readTaskRunStates(taskRunId: string): Promise<State[]> {
    return this.request("GET", `/task_run_states/?task_run_id=${encodeURIComponent(taskRunId)}`);
  }

  // deployments
  filterDeployments(body: Record<string, unknown> = {}): Promise<Deployment[]> {
    return this.request("POST", "/deployments/filter", body);
  }

  // logs
  createLogs(logs: LogCreate[]): Promise<void> {
    return this.request("POST", "/logs/", logs);
  }
  filterLogs(body: Record<string, unknown> = {}): Promise<Log[]> {
    return this.request("POST", "/logs/filter", body);
  }
}

/** Pulls a readable message out of an error body (`detail`, `exception_message`, or text). */
function errorDetail(text: string): string {
  try {
    const body = JSON.parse(text) as { detail?: unknown; exception_message?: unknown };
    if (typeof body.exception_message === "string") return body.exception_message;
    if (typeof body.detail === "string") return body.detail;
    return text;
  } catch {
    return text;
  }
}
