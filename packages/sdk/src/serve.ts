import {
  ApiError,
  ConcurrencyOptions,
  MAX_FILTER_LIMIT,
  Name,
  Schedule,
  lazySchema,
  z,
  type Deployment,
  type DeploymentCreate,
  type DeploymentScheduleCreate,
  type Flow,
  type FlowRun,
} from "@baton/core";
import { claimInOrder } from "./claims.js";
import type { BatonClient } from "./client.js";
import { applyState } from "./engine/attempt.js";
import { drainOnSignal } from "./engine/crash.js";
import { proposeState, type RunTarget } from "./engine/states.js";
import { openSession } from "./ephemeral.js";
import { InvalidOptionError } from "./errors.js";
import type { FlowOptions, FlowRunOutcome } from "./flow.js";
import { flowParameterSchema } from "./parameter-schema.js";
import { describeError } from "./results/serializer.js";
import { currentSettings, LOG_LEVEL_NAMES, type LogLevelName } from "./settings.js";

/**
 * What `serve()` needs of a flow. Any flow made with `flow()` is one; the type is structural
 * so that a flow made by another copy of the SDK can be served too.
 */
export interface ServableFlow {
  (...args: never): unknown;
  readonly name: string;
  readonly description?: string | undefined;
  readonly options: Readonly<FlowOptions>;
  readonly fn: (...args: never) => unknown;
  /** `flowRun`: the run as claimed, so that it is not read again (a copy that ignores it reads it). */
  runExisting(flowRunId: string, options?: { flowRun?: FlowRun }): Promise<FlowRunOutcome<unknown>>;
}

interface ScheduleCommon {
  /** A schedule that is not active creates no runs (default true). */
  active?: boolean;
  /** Parameters of the runs this schedule creates, over the deployment's. */
  parameters?: Record<string, unknown>;
}

/**
 * When a deployment runs by itself: the server's scheduler creates its runs ahead of time.
 * `timezone` is an IANA name ("Europe/Berlin"); cron and rrule times are local times there,
 * and an interval of whole days keeps its local time across daylight-saving changes.
 */
export type ScheduleSpec =
  | (ScheduleCommon & { cron: string; timezone?: string; /** false: day-of-month AND day-of-week must match. */ dayOr?: boolean })
  | (ScheduleCommon & { /** Seconds between runs. */ interval: number; /** Counted from here (default: now). */ anchorDate?: Date | string; timezone?: string })
  | (ScheduleCommon & { rrule: string; timezone?: string });

/** How a flow is deployed: every field is optional. */
export interface DeploymentOptions {
  /** Default: the flow's name (as Prefect's `flow.serve()` does). */
  name?: string;
  /** Default: the flow's description. */
  description?: string;
  /** Default: the flow's version. */
  version?: string;
  schedules?: readonly ScheduleSpec[];
  /** Default parameters of the deployment's runs; a run's own parameters win. */
  parameters?: Record<string, unknown>;
  tags?: readonly string[];
  /** Most runs of this deployment active at once, across every process serving it. */
  concurrencyLimit?: number;
  /** A run beyond `concurrencyLimit` waits for a slot (ENQUEUE, the default) or is cancelled (CANCEL_NEW). */
  collisionStrategy?: "ENQUEUE" | "CANCEL_NEW";
  /** Check the parameters of new runs against the flow's parameter schema (default true). */
  enforceParameterSchema?: boolean;
}

/** A flow and how to deploy it, for `serve()`. */
export interface ServeDeployment extends DeploymentOptions {
  flow: ServableFlow;
}

export interface ServeOptions {
  /** Most flow runs executing at once in this process (default: no limit). */
  limit?: number;
  /** Seconds between polls for due runs (default 10). */
  pollIntervalSeconds?: number;
  /** Claim runs scheduled up to this many seconds ahead (default 10); they start on time. */
  prefetchSeconds?: number;
  /** Aborting it stops serving: no more runs are claimed, and runs in progress finish. */
  signal?: AbortSignal;
  /**
   * SIGINT/SIGTERM stop serving the same way (default true); a second signal marks the runs
   * still in progress CRASHED and ends the process.
   */
  handleSignals?: boolean;
  /**
   * Pause the served deployments that have schedules when serving stops, so their scheduled
   * runs do not pile up while nothing runs them (default true, as in Prefect). The next
   * `serve()` un-pauses them.
   */
  pauseOnShutdown?: boolean;
}

/** A deployment registered by `serve()`, with the flow that runs it. */
interface ServedDeployment {
  deployment: Deployment;
  flow: ServableFlow;
  /** `flow-name/deployment-name`, as `baton deployment run` takes it. */
  fullName: string;
}

/**
 * Serves flows in this process, without a worker: registers each flow and a deployment of it
 * on the server (schedules, default parameters, tags, a parameter schema read from the flow),
 * then polls for the deployments' due runs (created by the server's scheduler, or requested
 * with `baton deployment run` / `POST /deployments/{id}/create_flow_run`), claims each one
 * (PENDING, so two processes serving the same deployment never run the same run twice), and
 * runs it here, at most `limit` at once. Resolves once serving has stopped (`signal`
 * aborted, or SIGINT/SIGTERM) and the runs in progress have finished.
 *
 * A bare flow is deployed under its own name with no schedule. The server is the one the SDK
 * reports to (`BATON_API_URL`); without one a temporary server is started, which runs no
 * scheduler.
 *
 * @example
 * import { flow, serve } from "@baton/sdk";
 *
 * const etl = flow(async function etl(date: string, limit = 100) { ... });
 * const cleanup = flow(async function cleanup() { ... });
 *
 * await serve(
 *   [
 *     { flow: etl, name: "nightly", schedules: [{ cron: "0 3 * * *", timezone: "Europe/Berlin" }], parameters: { date: "today" } },
 *     { flow: cleanup, schedules: [{ interval: 3600 }], concurrencyLimit: 1 },
 *   ],
 *   { limit: 4 },
 * );
 * // then: baton deployment run etl/nightly --param date=2026-01-31 --watch
 */
export async function serve(deployments: ReadonlyArray<ServableFlow | ServeDeployment>, options: ServeOptions = {}): Promise<void> {
  const settings = checkServeOptions(options);
  const requested = deployments.map((item, index) => checkDeployment(item, index));
  if (requested.length === 0) throw new InvalidOptionError("serve.deployments", "give at least one flow or deployment to serve");
  const names = new Set<string>();
  for (const { flow, options: d } of requested) {
    const fullName = `${flow.name}/${d.name ?? flow.name}`;
    if (names.has(fullName)) throw new InvalidOptionError("serve.deployments", `deployment '${fullName}' is given twice`);
    names.add(fullName);
  }
  if (options.signal?.aborted) return;

  const log = serveLogger();
  const session = await openSession();
  try {
    const { client } = session;
    if (currentSettings().apiUrl === undefined) {
      log.warning(
        `No BATON_API_URL is set, so serving on a temporary server at ${client.apiUrl}: runs requested there are run, ` +
          "but a temporary server runs no scheduler, so schedules create no runs. Point BATON_API_URL at `baton server start` to serve for real.",
      );
    }
    // Everything is checked before anything is registered.
    const prepared = requested.map(({ flow, options: d }) => prepareDeployment(flow, d));
    const served: ServedDeployment[] = [];
    for (const deployment of prepared) served.push(await registerDeployment(client, deployment));
    log.info(`Serving ${served.length} deployment(s): ${served.map(describeServed).join(", ")}${settings.limit === Infinity ? "" : `; running at most ${settings.limit} flow run(s) at once`}`);
    const apiSetting = currentSettings().apiUrl === undefined ? `BATON_API_URL=${client.apiUrl} ` : "";
    log.info(`Start a run with: ${apiSetting}baton deployment run '${served[0]!.fullName}'`);

    const runner = new DeploymentRunner(client, served, settings, log);
    const onAbort = () => runner.stop("the abort signal fired");
    options.signal?.addEventListener("abort", onAbort, { once: true });
    // It may have been aborted while the deployments were being registered.
    if (options.signal?.aborted) onAbort();
    const giveBackSignals = settings.handleSignals
      ? drainOnSignal((signal) => runner.stop(`${signal} received (send it again to mark the runs in progress CRASHED and exit at once)`))
      : undefined;
    try {
      await runner.run();
    } finally {
      options.signal?.removeEventListener("abort", onAbort);
      giveBackSignals?.();
    }
    if (settings.pauseOnShutdown) await pauseScheduled(client, served, log);
    log.info("Stopped serving");
  } finally {
    await session.release();
  }
}

interface ServeSettings {
  limit: number;
  pollIntervalMs: number;
  prefetchMs: number;
  handleSignals: boolean;
  pauseOnShutdown: boolean;
}

// Built on first use: a flow run process loads this module but never serves.
const ServeOptionsSchema = lazySchema(() =>
  z.looseObject({
    limit: z.number().int("must be a whole number").positive("must be at least 1").optional(),
    pollIntervalSeconds: z.number().positive("must be more than 0").finite().optional(),
    prefetchSeconds: z.number().min(0, "must be 0 or more").finite().optional(),
    signal: z.instanceof(AbortSignal, { message: "must be an AbortSignal" }).optional(),
    handleSignals: z.boolean().optional(),
    pauseOnShutdown: z.boolean().optional(),
  }),
);

function checkServeOptions(options: ServeOptions): ServeSettings {
  const parsed = ServeOptionsSchema.safeParse(options);
  if (!parsed.success) throw optionError("serve.options", parsed.error);
  return {
    limit: options.limit ?? Infinity,
    pollIntervalMs: (options.pollIntervalSeconds ?? 10) * 1000,
    prefetchMs: (options.prefetchSeconds ?? 10) * 1000,
    handleSignals: options.handleSignals ?? true,
    pauseOnShutdown: options.pauseOnShutdown ?? true,
  };
}

const ScheduleSpecSchema = lazySchema(() => {
  const common = {
    active: z.boolean().optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    timezone: z.string().optional(),
  };
  return z.union(
    [
      z.strictObject({ ...common, cron: z.string(), dayOr: z.boolean().optional() }),
      z.strictObject({ ...common, interval: z.number(), anchorDate: z.union([z.date(), z.string()]).optional() }),
      z.strictObject({ ...common, rrule: z.string() }),
    ],
    { error: "must be { cron, timezone? }, { interval, anchorDate?, timezone? } or { rrule, timezone? }" },
  );
});
const DeploymentOptionsSchema = lazySchema(() =>
  z.looseObject({
    name: Name.optional(),
    description: z.string().optional(),
    version: z.string().optional(),
    schedules: z.array(ScheduleSpecSchema).optional(),
    parameters: z.record(z.string(), z.unknown()).optional(),
    tags: z.array(z.string()).optional(),
    concurrencyLimit: z.number().int("must be a whole number").positive("must be at least 1").optional(),
    collisionStrategy: ConcurrencyOptions.shape.collision_strategy.optional(),
    enforceParameterSchema: z.boolean().optional(),
  }),
);

function checkDeployment(item: ServableFlow | ServeDeployment, index: number): { flow: ServableFlow; options: DeploymentOptions } {
  const where = `serve.deployments[${index}]`;
  const [flow, options]: [unknown, DeploymentOptions] = typeof item === "function" ? [item, {}] : [item?.flow, item ?? {}];
  if (!isServableFlow(flow)) throw new InvalidOptionError(typeof item === "function" ? where : `${where}.flow`, "must be a flow made with flow() from @baton/sdk");
  const parsed = DeploymentOptionsSchema.safeParse(options);
  if (!parsed.success) throw optionError(where, parsed.error);
  return { flow, options };
}

function isServableFlow(value: unknown): value is ServableFlow {
  return typeof value === "function" && typeof (value as Partial<ServableFlow>).runExisting === "function" && typeof (value as Partial<ServableFlow>).fn === "function";
}

function optionError(where: string, error: z.ZodError): InvalidOptionError {
  const issue = error.issues[0];
  const path = (issue?.path ?? []).map((key) => (typeof key === "number" ? `[${key}]` : `.${String(key)}`)).join("");
  return new InvalidOptionError(`${where}${path}`, issue?.message ?? "invalid value");
}

interface PreparedDeployment {
  flow: ServableFlow;
  fullName: string;
  /** The deployment's body, but for the flow's id. */
  body: Omit<DeploymentCreate, "flow_id">;
}

/**
 * The deployment's body, checked: schedule time zones with the server's own schema, and
 * parameter names against the flow's, so a mistake fails `serve()` at once, naming the
 * field. (Cron and rrule expressions are checked by the server when it is registered.)
 */
function prepareDeployment(flow: ServableFlow, options: DeploymentOptions): PreparedDeployment {
  const name = options.name ?? flow.name;
  const fullName = `${flow.name}/${name}`;
  const where = `deployment '${fullName}'`;
  const schema = flowParameterSchema(flow);
  const known = Object.keys(schema.properties);
  const checkParameters = (parameters: Record<string, unknown> | undefined, field: string) => {
    for (const key of Object.keys(parameters ?? {})) {
      if (!known.includes(key)) {
        throw new InvalidOptionError(`${where}: ${field}.${key}`, `matches no parameter of flow '${flow.name}' (its parameters: ${known.join(", ") || "none"})`);
      }
    }
  };
  checkParameters(options.parameters, "parameters");
  const schedules = (options.schedules ?? []).map((spec, i): DeploymentScheduleCreate => {
    checkParameters(spec.parameters, `schedules[${i}].parameters`);
    const schedule = scheduleOf(spec);
    const parsed = Schedule.safeParse(schedule);
    if (!parsed.success) throw optionError(`${where}: schedules[${i}]`, parsed.error);
    return { schedule, active: spec.active ?? true, parameters: spec.parameters ?? {} };
  });
  return {
    flow,
    fullName,
    body: {
      name,
      paused: false,
      schedules,
      concurrency_limit: options.concurrencyLimit ?? null,
      concurrency_options: options.collisionStrategy === undefined ? null : { collision_strategy: options.collisionStrategy, grace_period_seconds: null },
      parameter_openapi_schema: { ...schema },
      enforce_parameter_schema: options.enforceParameterSchema ?? true,
      parameters: options.parameters ?? {},
      tags: [...(options.tags ?? [])],
      description: options.description ?? flow.description ?? null,
      version: options.version ?? flow.options.version ?? null,
      // Runs of a served deployment are this process's, not a work pool's.
      work_pool_name: null,
      work_queue_name: null,
      path: null,
      entrypoint: null,
    },
  };
}

/** Creates the flow (by name) and upserts its deployment, replacing its schedules. */
async function registerDeployment(client: BatonClient, { flow, fullName, body }: PreparedDeployment): Promise<ServedDeployment> {
  try {
    const flowRecord = await client.request<Flow>("POST", "/flows/", { name: flow.name });
    const deployment = await client.request<Deployment>("POST", "/deployments/", { ...body, flow_id: flowRecord.id });
    return { deployment, flow, fullName };
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) {
      throw new InvalidOptionError(`deployment '${fullName}'`, `the server refused it: ${error.detail}`);
    }
    throw error;
  }
}

/** The API's schedule for a `ScheduleSpec` (camelCase options to the wire's snake_case). */
function scheduleOf(spec: ScheduleSpec): DeploymentScheduleCreate["schedule"] {
  if ("cron" in spec) return { cron: spec.cron, timezone: spec.timezone ?? null, day_or: spec.dayOr ?? true };
  if ("interval" in spec) {
    const anchor = spec.anchorDate instanceof Date ? spec.anchorDate.toISOString() : (spec.anchorDate ?? null);
    return { interval: spec.interval, anchor_date: anchor, timezone: spec.timezone ?? null };
  }
  return { rrule: spec.rrule, timezone: spec.timezone ?? null };
}

function describeServed({ deployment, fullName }: ServedDeployment): string {
  const schedules = deployment.schedules.filter((s) => s.active).map((s) => describeSchedule(s.schedule));
  return `'${fullName}'${schedules.length > 0 ? ` (${schedules.join("; ")})` : ""}`;
}

function describeSchedule(schedule: Deployment["schedules"][number]["schedule"]): string {
  const zone = schedule.timezone ? ` ${schedule.timezone}` : "";
  if ("cron" in schedule) return `cron "${schedule.cron}"${zone}`;
  if ("interval" in schedule) return `every ${schedule.interval} s${zone}`;
  return `rrule "${schedule.rrule.replace(/\s+/g, " ")}"${zone}`;
}

async function pauseScheduled(client: BatonClient, served: readonly ServedDeployment[], log: ServeLogger): Promise<void> {
  for (const { deployment, fullName } of served) {
    if (!deployment.schedules.some((s) => s.active)) continue;
    try {
      await client.request("PATCH", `/deployments/${deployment.id}`, { paused: true });
      log.info(`Paused deployment '${fullName}' so that its schedules create no runs while it is not served`);
    } catch (error) {
      log.warning(`Could not pause deployment '${fullName}': ${describeError(error)}`);
    }
  }
}

/**
 * The polling loop: claims due runs of the served deployments while there is room, runs
 * each in this process, and on `stop()` claims nothing more and waits for those in progress.
 */
class DeploymentRunner {
  private readonly byDeploymentId: Map<string, ServedDeployment>;
  /** Runs claimed here and not finished yet. */
  private readonly active = new Map<string, Promise<void>>();
  private stopping = false;
  private wakeUp: (() => void) | undefined;

  constructor(
    private readonly client: BatonClient,
    served: readonly ServedDeployment[],
    private readonly settings: ServeSettings,
    private readonly log: ServeLogger,
  ) {
    this.byDeploymentId = new Map(served.map((s) => [s.deployment.id, s]));
  }

  stop(reason: string): void {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info(`Stopping: ${reason}; claiming no more flow runs`);
    this.wakeUp?.();
  }

  async run(): Promise<void> {
    while (!this.stopping) {
      try {
        await this.claimDueRuns();
      } catch (error) {
        this.log.error(`Could not poll for flow runs: ${describeError(error)}; trying again in ${this.settings.pollIntervalMs / 1000} s`);
      }
      if (this.stopping) break;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.settings.pollIntervalMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = undefined;
    }
    if (this.active.size > 0) this.log.info(`Waiting for ${this.active.size} flow run(s) in progress to finish`);
    await Promise.allSettled([...this.active.values()]);
  }

  private async claimDueRuns(): Promise<void> {
    const room = this.settings.limit - this.active.size;
    if (room <= 0) return;
    const due = await this.client.request<FlowRun[]>("POST", "/deployments/get_scheduled_flow_runs", {
      deployment_ids: [...this.byDeploymentId.keys()],
      scheduled_before: new Date(Date.now() + this.settings.prefetchMs).toISOString(),
      // Runs this process is retrying are listed too (they wait as Scheduled): ask for room beyond them.
      limit: Math.min(MAX_FILTER_LIMIT, room + this.active.size),
    });
    const candidates = due.flatMap((run) => {
      const served = run.deployment_id === null ? undefined : this.byDeploymentId.get(run.deployment_id);
      return served === undefined || this.active.has(run.id) || isInProcessRetry(run) ? [] : [{ run, served }];
    });
    await claimInOrder(candidates, {
      hasRoom: (inFlight) => !this.stopping && this.active.size + inFlight < this.settings.limit,
      claim: async (candidate) => {
        const claimed = await this.claim(candidate.run);
        return claimed === undefined ? undefined : { run: claimed, served: candidate.served };
      },
      onClaimed: ({ run, served }) => this.submit(run, served),
      // claim() reports its own failures and resolves false.
      onError: () => undefined,
    });
  }

  /**
   * Proposes PENDING: the server accepts it for exactly one claimant, who gets the run as
   * listed with its new state. That is the run as the server has it (a run's other fields do
   * not change while it waits to be claimed), so the engine starts from it rather than
   * reading it again: one request fewer per run, 1,000 fewer at a burst of 1,000.
   */
  private async claim(run: FlowRun): Promise<FlowRun | undefined> {
    try {
      const result = await proposeState(this.target(run), { type: "PENDING", name: "Pending" });
      if (result.status === "ACCEPT") {
        const claimed = { ...run };
        if (result.state !== null) applyState(claimed, result.state);
        return claimed;
      }
      const reason = "reason" in result.details && result.details.reason ? `: ${result.details.reason}` : "";
      this.log.debug(`Flow run '${run.name}' not claimed (${result.status}${reason})`);
    } catch (error) {
      this.log.warning(`Could not claim flow run '${run.name}' (${run.id}): ${describeError(error)}`);
    }
    return undefined;
  }

  private submit(run: FlowRun, served: ServedDeployment): void {
    const execution = (async () => {
      this.log.info(`Running flow run '${run.name}' (${run.id}) of deployment '${served.fullName}'`);
      try {
        const outcome = await served.flow.runExisting(run.id, { flowRun: run });
        const state = outcome.state.name ?? outcome.state.type;
        if (outcome.state.type === "COMPLETED") this.log.info(`Flow run '${run.name}' finished in state ${state}`);
        else this.log.warning(`Flow run '${run.name}' finished in state ${state}`);
      } catch (error) {
        this.log.error(`Flow run '${run.name}' (${run.id}) could not be run: ${describeError(error)}`);
        await this.markCrashed(run, error);
      } finally {
        const wasFull = this.active.size >= this.settings.limit;
        this.active.delete(run.id);
        // A slot is free at a full process: look for more work now rather than after the pause.
        // (Without a limit, waking on every finished run would poll back to back under load.)
        if (wasFull && !this.stopping) this.wakeUp?.();
      }
    })();
    this.active.set(run.id, execution);
  }

  /**
   * A run the engine could not see through (the server went away mid-run, the run was
   * deleted) would otherwise stay PENDING or RUNNING until the server's zombie check; a run
   * already finished refuses this, which is what is wanted.
   */
  private async markCrashed(run: FlowRun, error: unknown): Promise<void> {
    try {
      await proposeState(this.target(run), { type: "CRASHED", name: "Crashed", message: `serve() could not run it: ${describeError(error)}` });
    } catch {
      // Already reported above; the server's zombie check is the fallback.
    }
  }

  private target(run: FlowRun): RunTarget {
    return { kind: "flow", id: run.id, client: this.client };
  }
}

/**
 * A run waiting to be retried by the process it failed in is not for anyone else to start;
 * Prefect marks those `retry_type: "in_process"`.
 */
function isInProcessRetry(run: FlowRun): boolean {
  return run.state_name === "AwaitingRetry" && run.empirical_policy.retry_type === "in_process";
}

interface ServeLogger {
  debug(message: string): void;
  info(message: string): void;
  warning(message: string): void;
  error(message: string): void;
}

/** `HH:MM:SS.mmm | INFO     | serve - message` on stderr, as run logs are printed, when console logs are on. */
function serveLogger(): ServeLogger {
  const line = (level: LogLevelName) => (message: string) => {
    const settings = currentSettings();
    if (!settings.consoleLogs || LOG_LEVEL_NAMES.indexOf(level) < LOG_LEVEL_NAMES.indexOf(settings.logLevel)) return;
    process.stderr.write(`${new Date().toISOString().slice(11, 23)} | ${level.toUpperCase().padEnd(8)} | serve - ${message}\n`);
  };
  return { debug: line("debug"), info: line("info"), warning: line("warning"), error: line("error") };
}
