import { ApiError, type FlowRun, type StateDetails } from "@baton/core";
import type { ZodType } from "zod";
import { currentStore, type FlowRunContext } from "./context.js";
import { FlowRunSuspendedError, InvalidOptionError, MissingContextError, PauseTimeoutError } from "./errors.js";

/** What a paused run asks for: a zod schema (its JSON Schema is stored) or a JSON Schema object. */
export type InputSchema<T> = ZodType<T> | Record<string, unknown>;

export interface PauseOptions<T> {
  /** How long the run waits to be resumed before it fails (default 3600 s, as Prefect's). */
  timeoutSeconds?: number;
  /** The input to wait for; `baton flow-run resume ID --input JSON` must match it. */
  waitForInput?: InputSchema<T>;
  /** Names this pause; by default pauses are numbered in the order the flow reaches them. */
  key?: string;
  /** How often a paused process looks whether it was resumed (default 2 s). */
  pollIntervalSeconds?: number;
}

const DEFAULT_TIMEOUT_SECONDS = 3600;
const DEFAULT_POLL_SECONDS = 2;

/** How many pauses each flow run attempt has reached, for the default keys. */
const pauseCounters = new WeakMap<FlowRunContext, number>();

/**
 * Pauses the current flow run until it is resumed (`baton flow-run resume ID`, or
 * `POST /api/flow_runs/{id}/resume`), keeping this process waiting. With `waitForInput` it
 * resolves to the input sent with the resume, checked against the schema by the server.
 * Not resumed within `timeoutSeconds`: it throws a `PauseTimeoutError` and the run fails.
 *
 * @example
 * const approve = flow(async function approve() {
 *   const { ok } = await pauseFlowRun({ timeoutSeconds: 600, waitForInput: z.object({ ok: z.boolean() }) });
 *   return ok ? "shipped" : "dropped";
 * });
 */
export async function pauseFlowRun<T = undefined>(options: PauseOptions<T> = {}): Promise<T> {
  return pauseOrSuspend(options, false);
}

/**
 * Suspends the current flow run: it is marked PAUSED (to be rescheduled) and this process stops
 * running it. Once resumed the run is Scheduled again and a worker (or `serve()`) runs the flow
 * from the start; this call, reached again, then resolves at once to the input sent with the
 * resume. Use it for waits longer than a process should live.
 *
 * @example
 * const review = flow(async function review(doc: string) {
 *   const { verdict } = await suspendFlowRun({ waitForInput: z.object({ verdict: z.string() }), timeoutSeconds: 86_400 });
 *   return `${doc}: ${verdict}`;
 * });
 */
export async function suspendFlowRun<T = undefined>(options: PauseOptions<T> = {}): Promise<T> {
  return pauseOrSuspend(options, true);
}

async function pauseOrSuspend<T>(options: PauseOptions<T>, suspend: boolean): Promise<T> {
  const store = currentStore();
  const ctx = store?.flow;
  if (!ctx) throw new MissingContextError(`${suspend ? "suspendFlowRun" : "pauseFlowRun"}() can only be called inside a flow run`);
  if (store.task) throw new MissingContextError(`${suspend ? "suspendFlowRun" : "pauseFlowRun"}() cannot be called inside a task run; call it from the flow`);
  const timeoutSeconds = options.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS;
  if (!(timeoutSeconds > 0)) throw new InvalidOptionError("timeoutSeconds", "must be a positive number of seconds");
  const pollSeconds = options.pollIntervalSeconds ?? DEFAULT_POLL_SECONDS;
  if (!(pollSeconds > 0)) throw new InvalidOptionError("pollIntervalSeconds", "must be a positive number of seconds");
  if (options.key !== undefined && !/^[A-Za-z0-9_-]{1,200}$/.test(options.key)) {
    throw new InvalidOptionError("key", "may contain only letters, digits, dashes and underscores");
  }
  const count = (pauseCounters.get(ctx) ?? 0) + 1;
  pauseCounters.set(ctx, count);
  const pauseKey = options.key ?? String(count);
  const base = `${suspend ? "suspended" : "paused"}-${pauseKey}`;
  const keyset = { description: `${base}-description`, response: `${base}-response`, schema: `${base}-schema` };
  const { client } = ctx.session;
  const runId = ctx.flowRun.id;

  if (options.waitForInput !== undefined) {
    // Run again after a suspension: the input this pause waited for is already here.
    const earlier = await readInput(ctx, keyset.response);
    if (earlier !== undefined) return parseInput(options.waitForInput, earlier);
    await storeInput(ctx, keyset.schema, JSON.stringify(jsonSchemaOf(options.waitForInput)));
  }

  const details: StateDetails = {
    pause_timeout: new Date(Date.now() + timeoutSeconds * 1000).toISOString(),
    pause_reschedule: suspend,
    pause_key: pauseKey,
    ...(options.waitForInput !== undefined ? { run_input_keyset: keyset } : {}),
  };
  const result = await client.setFlowRunState(runId, { type: "PAUSED", name: suspend ? "Suspended" : "Paused", state_details: details });
  if (result.status !== "ACCEPT") {
    throw new MissingContextError(`The flow run could not be paused: ${result.details.type === "accept_details" ? result.status : (result.details.reason ?? result.status)}`);
  }
  ctx.logger.info(`${suspend ? "Suspended" : "Paused"}; waiting to be resumed (key '${pauseKey}', timeout ${timeoutSeconds} s)`);
  if (suspend) throw new FlowRunSuspendedError(runId);

  const deadline = Date.now() + timeoutSeconds * 1000;
  for (;;) {
    await sleep(Math.min(pollSeconds * 1000, Math.max(0, deadline - Date.now())));
    const run: FlowRun = await client.readFlowRun(runId);
    const type = run.state?.type;
    if (type === "RUNNING") break;
    if (type !== "PAUSED" || Date.now() >= deadline) throw new PauseTimeoutError(runId, timeoutSeconds);
  }
  ctx.logger.info("Resumed");
  if (options.waitForInput === undefined) return undefined as T;
  const input = await readInput(ctx, keyset.response);
  return parseInput(options.waitForInput, input ?? {});
}

async function readInput(ctx: FlowRunContext, key: string): Promise<unknown> {
  try {
    return await ctx.session.client.request<unknown>("GET", `/flow_runs/${ctx.flowRun.id}/input/${encodeURIComponent(key)}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}

async function storeInput(ctx: FlowRunContext, key: string, value: string): Promise<void> {
  try {
    await ctx.session.client.request("POST", `/flow_runs/${ctx.flowRun.id}/input`, { key, value });
  } catch (error) {
    // Stored by an earlier attempt of the same pause: the same schema.
    if (!(error instanceof ApiError && error.status === 409)) throw error;
  }
}

function isZod<T>(schema: InputSchema<T>): schema is ZodType<T> {
  return typeof (schema as { safeParse?: unknown }).safeParse === "function";
}

function jsonSchemaOf<T>(schema: InputSchema<T>): Record<string, unknown> {
  if (!isZod(schema)) return schema;
  // zod's own converter (zod 4), through the instance so the SDK needs no import of zod here.
  const json = (schema as unknown as { toJSONSchema?: () => Record<string, unknown> }).toJSONSchema?.();
  if (!json) throw new InvalidOptionError("waitForInput", "this zod schema cannot be written as a JSON Schema");
  return json;
}

/** The server checked the input against the JSON Schema; a zod schema also gets its transforms applied. */
function parseInput<T>(schema: InputSchema<T>, value: unknown): T {
  return isZod(schema) ? schema.parse(value) : (value as T);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
