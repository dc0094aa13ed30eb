import http from "node:http";
import { setTimeout as delay } from "node:timers/promises";
import {
  ApiError,
  importModule,
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
 * Pauses before a request that failed in passing is sent again; one more failure after the
 * last is final. Reads here, state proposals and worker claims (with their transition id).
 */
export const RETRY_PAUSES_MS = [250, 1000, 3000];
/** Failures of a read that say nothing about the server being gone. */
const RETRIED_CODES = new Set(["ETIMEDOUT", "ECONNRESET", "EPIPE"]);
const RETRIED_STATUSES = new Set([502, 503, 504]);

/**
 * A failure worth sending a request again for, when the request is safe to repeat: the server
 * could not be reached or was overloaded (429, 502, 503, 504).
 */
export function isTransient(error: unknown): boolean {
  if (error instanceof ServerUnreachableError) return true;
  return error instanceof ApiError && (error.status === 429 || error.status === 502 || error.status === 503 || error.status === 504);
}

/** The requests that take and give back concurrency slots (the server runs them at once too). */
const SLOT_PATH = /^\/v2\/concurrency_limits\/(increment|increment-with-lease|decrement|decrement-with-lease|leases\/[^/]+\/renew)$/;
let slotRequestsInFlight = 0;
const heldBack: Array<() => void> = [];
let handingBack = false;

/**
 * While a slot request is in flight in this process, other answers are handed back one per
 * turn of the event loop instead of as they are read. A process serving 1,000 flow runs reads
 * dozens of answers together, and each one's caller went on at once (the run's next request,
 * its engine's next step), so the answer that lets a run take its slot waited behind all of
 * them. Answers keep their order, and nothing waits more than one turn per answer ahead of it;
 * a process with no slot request in flight hands every answer back at once, as before.
 */
function handBack(deliver: () => void): void {
  if (slotRequestsInFlight === 0 && heldBack.length === 0) return deliver();
  heldBack.push(deliver);
  if (!handingBack) {
    handingBack = true;
    setImmediate(handBackNext);
  }
}

function handBackNext(): void {
  const deliver = heldBack.shift();
  handingBack = heldBack.length > 0;
  if (handingBack) setImmediate(handBackNext);
  deliver?.();
}

/**
 * A request body that is JSON already, as UTF-8 (a batch of task-run events written as they
 * were reported, engine/task-run-reporter.ts): sent as it is rather than stringified.
 */
export class JsonBytes {
  constructor(readonly bytes: Uint8Array) {}
}

/** Shared by every client in the process, so that connections to the server are reused. */
const HTTP_AGENT = new http.Agent({ keepAlive: true });

interface Transport {
  request: typeof http.request;
  agent: http.Agent;
}

let httpsTransport: Promise<Transport> | undefined;

/** node:https (and TLS with it) only for an https:// server: most run processes talk plain HTTP to a local one. */
function loadHttps(): Promise<Transport> {
  httpsTransport ??= importModule<typeof import("node:https")>("node:https").then((https) => ({
    request: https.request,
    agent: new https.Agent({ keepAlive: true }),
  }));
  return httpsTransport;
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

  /**
   * Sends one request and returns the parsed JSON body (or `undefined` for 204). A read (GET)
   * whose answer timed out, whose connection broke, or that the server or a proxy answered
   * 502/503/504 is sent again after a pause (`RETRY_PAUSES_MS`); a refused connection
   * (no server) fails at once. Writes are not re-sent here: the callers that know a write is
   * safe to repeat (state proposals, with their transition id) do it themselves.
   */
  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const url = `${this.apiUrl}${path}`;
    const payload = body === undefined ? undefined : body instanceof JsonBytes ? body.bytes : JSON.stringify(body);
    const slot = method === "POST" && SLOT_PATH.test(path);
    if (slot) slotRequestsInFlight += 1;
    try {
      return await this.sendWithRetries<T>(method, url, payload, slot);
    } finally {
      if (slot) slotRequestsInFlight -= 1;
    }
  }

  private async sendWithRetries<T>(method: string, url: string, payload: string | Uint8Array | undefined, slot: boolean): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      // Only reads are sent again, and only while pauses are left.
      const pause = method === "GET" ? RETRY_PAUSES_MS[attempt] : undefined;
      let response: { status: number; text: string; retryAfter: string | undefined };
      try {
        response = await this.send(method, new URL(url), payload, slot);
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (pause !== undefined && code !== undefined && RETRIED_CODES.has(code)) {
          await delay(pause);
          continue;
        }
        throw new ServerUnreachableError(this.apiUrl, code ?? (error instanceof Error ? error.message : String(error)));
      }
      if (response.status >= 200 && response.status <= 299) return (response.text.length > 0 ? JSON.parse(response.text) : undefined) as T;
      if (pause !== undefined && RETRIED_STATUSES.has(response.status)) {
        await delay(pause);
        continue;
      }
      throw new ApiError(response.status, method, url, errorDetail(response.text), retryAfterSeconds(response.retryAfter));
    }
  }

  /**
   * One round trip over node:http rather than `fetch`: a flow run process is started for every
   * run, and loading fetch's implementation (undici) was a tenth of its start-up CPU; node:http
   * also costs less CPU per request. Idle keep-alive sockets do not keep the process alive.
   */
  private async send(method: string, url: URL, payload: string | Uint8Array | undefined, slot: boolean): Promise<{ status: number; text: string; retryAfter: string | undefined }> {
    const transport = url.protocol === "https:" ? await loadHttps() : { request: http.request, agent: HTTP_AGENT };
    return new Promise((resolve, reject) => {
      const headers: Record<string, string | number> = { accept: "application/json" };
      if (payload !== undefined) {
        headers["content-type"] = "application/json";
        headers["content-length"] = Buffer.byteLength(payload);
      }
      const request = transport.request(url, { method, headers, agent: transport.agent }, (response) => {
        const chunks: Buffer[] = [];
        response.on("data", (chunk: Buffer) => chunks.push(chunk));
        response.on("error", reject);
        response.on("end", () => {
          const retryAfter = response.headers["retry-after"];
          const answer = { status: response.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8"), retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter };
          if (slot) resolve(answer);
          else handBack(() => resolve(answer));
        });
      });
      request.setTimeout(this.timeoutMs, () => {
        request.destroy(Object.assign(new Error(`no answer within ${this.timeoutMs} ms`), { code: "ETIMEDOUT" }));
      });
      request.on("error", reject);
      request.end(payload);
    });
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

/** `Retry-After` as seconds: Prefect and Baton send a decimal number (an HTTP date is not used here). */
function retryAfterSeconds(header: string | undefined): number | undefined {
  if (header === undefined) return undefined;
  const seconds = Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds : undefined;
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
