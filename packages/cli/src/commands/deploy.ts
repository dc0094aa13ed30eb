import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { ApiError, JsonObject, Name, Schedule, Tags, TimeZone, z, type Deployment, type DeploymentCreate, type Flow, type WorkPool } from "@baton/core";
import { flowParameterSchema, type BatonClient } from "@baton/sdk";
import type { Command } from "commander";
import { isMap, isScalar, LineCounter, parseDocument, type Document } from "yaml";
import { collect } from "../arguments.js";
import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";

/**
 * `baton deploy`: creates or updates the deployments a `baton.yaml` describes. Each names
 * the flow by its entrypoint (`path/to/file.ts:exportName`, relative to the file), which is
 * imported to learn the flow's name and parameters; the deployment records the file's folder
 * as its `path`, so a worker on this machine finds the same code.
 *
 * ```yaml
 * deployments:
 *   - name: nightly
 *     entrypoint: flows.ts:etl
 *     work_pool: { name: local }
 *     schedules:
 *       - cron: "0 3 * * *"
 *         timezone: Europe/Berlin
 *     parameters: { limit: 100 }
 * ```
 *
 * Everything is checked before anything is written: the file's fields, time zones, each
 * entrypoint, the parameter names against the flow's, and that each work pool exists. A
 * problem is one line naming the file, the line and the field, exit code 1.
 */

const SCHEDULE_COMMON = {
  active: z.boolean().optional(),
  parameters: JsonObject.optional(),
  max_scheduled_runs: z.number().int().positive().nullish(),
  timezone: TimeZone.nullish(),
};
const SCHEDULE_KINDS = {
  cron: z.strictObject({ ...SCHEDULE_COMMON, cron: z.string(), day_or: z.boolean().optional() }),
  interval: z.strictObject({ ...SCHEDULE_COMMON, interval: z.number(), anchor_date: z.string().nullish() }),
  rrule: z.strictObject({ ...SCHEDULE_COMMON, rrule: z.string() }),
};
type ScheduleEntry = z.infer<(typeof SCHEDULE_KINDS)[keyof typeof SCHEDULE_KINDS]>;

/** A schedule is told apart by its key (cron, interval or rrule), then checked with the server's own schema. */
const ScheduleEntry = JsonObject.transform((value, ctx): ScheduleEntry => {
  const kind = (Object.keys(SCHEDULE_KINDS) as Array<keyof typeof SCHEDULE_KINDS>).find((k) => k in value);
  if (kind === undefined) {
    ctx.addIssue({ code: "custom", message: "a schedule needs one of cron, interval or rrule" });
    return z.NEVER;
  }
  const parsed = SCHEDULE_KINDS[kind].safeParse(value);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  }
  const checked = Schedule.safeParse(apiSchedule(parsed.data));
  if (!checked.success) {
    for (const issue of checked.error.issues) ctx.addIssue({ ...issue });
    return z.NEVER;
  }
  return parsed.data;
});

const WorkPoolEntry = z.strictObject({
  name: z.string().min(1, "must not be empty"),
  work_queue_name: z.string().min(1, "must not be empty").nullish(),
  job_variables: JsonObject.optional(),
});

const PositiveInt = z.number().int("must be a whole number").positive("must be at least 1");
const ConcurrencyEntry = z.union([PositiveInt, z.strictObject({ limit: PositiveInt, collision_strategy: z.enum(["ENQUEUE", "CANCEL_NEW"]).optional() })], {
  error: "must be a number of runs, or { limit, collision_strategy: ENQUEUE | CANCEL_NEW }",
});

const DeploymentEntry = z.strictObject({
  name: Name,
  entrypoint: z.string().regex(/^.+:[^:/\\]+$/, "must be path/to/file.ts:exportName"),
  work_pool: WorkPoolEntry,
  description: z.string().nullish(),
  version: z.union([z.string(), z.number()]).transform(String).nullish(),
  schedules: z.array(ScheduleEntry).nullish(),
  parameters: JsonObject.nullish(),
  tags: Tags.nullish(),
  concurrency_limit: ConcurrencyEntry.nullish(),
  paused: z.boolean().optional(),
  enforce_parameter_schema: z.boolean().optional(),
});
type DeploymentEntry = z.infer<typeof DeploymentEntry>;

const DeploymentFile = z.strictObject({ deployments: z.array(DeploymentEntry).min(1, "must list at least one deployment") });

/** Which fields an object at a path of the file may have, for "unknown field" messages. */
function knownFields(path: readonly PropertyKey[], value: unknown): string[] {
  const depth = path.length;
  if (depth === 0) return Object.keys(DeploymentFile.shape);
  if (depth === 2) return Object.keys(DeploymentEntry.shape);
  if (path[2] === "work_pool") return Object.keys(WorkPoolEntry.shape);
  if (path[2] === "concurrency_limit") return ["limit", "collision_strategy"];
  if (path[2] === "schedules" && typeof value === "object" && value !== null) {
    const kind = (Object.keys(SCHEDULE_KINDS) as Array<keyof typeof SCHEDULE_KINDS>).find((k) => k in value);
    if (kind !== undefined) return Object.keys(SCHEDULE_KINDS[kind].shape);
  }
  return [];
}

function apiSchedule(entry: ScheduleEntry): z.input<typeof Schedule> {
  if ("cron" in entry) return { cron: entry.cron, timezone: entry.timezone ?? null, day_or: entry.day_or ?? true };
  if ("interval" in entry) return { interval: entry.interval, anchor_date: entry.anchor_date ?? null, timezone: entry.timezone ?? null };
  return { rrule: entry.rrule, timezone: entry.timezone ?? null };
}

/** A problem in the deployment file: `file:line: field: message`. */
class DeploymentFileError extends CliError {
  override name = "DeploymentFileError";
}

/** The parsed file, and where in it each field is (for messages). */
class DeploymentFileSource {
  private readonly lines = new LineCounter();
  private readonly doc: Document.Parsed;
  readonly directory: string;

  constructor(
    /** As the user gave it, for messages. */
    readonly displayPath: string,
    text: string,
  ) {
    this.directory = dirname(resolve(displayPath));
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false });
    const syntax = this.doc.errors[0];
    if (syntax) {
      const { line, col } = this.lines.linePos(syntax.pos[0]);
      throw new DeploymentFileError(`${displayPath}:${line}:${col}: not valid YAML: ${syntax.message.split("\n")[0]}`);
    }
  }

  value(): unknown {
    return this.doc.toJS();
  }

  /** `file:line: field: message`, the line being that of the field (or of its key, or its parent). */
  error(path: readonly PropertyKey[], message: string, at: "value" | "key" = "value"): DeploymentFileError {
    const field = path.length === 0 ? "" : ` ${fieldName(path)}:`;
    return new DeploymentFileError(`${this.displayPath}:${this.lineOf(path, at)}:${field} ${message}`);
  }

  private lineOf(path: readonly PropertyKey[], at: "value" | "key"): number {
    const keys = path.map((p) => (typeof p === "number" ? p : String(p)));
    if (at === "key" && keys.length > 0) {
      const parentKeys = keys.slice(0, -1);
      const parent = parentKeys.length === 0 ? this.doc.contents : this.doc.getIn(parentKeys, true);
      const pair = isMap(parent) ? parent.items.find((item) => isScalar(item.key) && item.key.value === keys[keys.length - 1]) : undefined;
      const range = isScalar(pair?.key) ? pair.key.range : undefined;
      // A missing field has no key: its parent's line.
      return range ? this.lines.linePos(range[0]).line : this.nodeLine(parentKeys);
    }
    return this.nodeLine(keys);
  }

  /** The line of the node at `keys`, or of its nearest ancestor that has one. */
  private nodeLine(keys: ReadonlyArray<string | number>): number {
    for (let depth = keys.length; depth >= 0; depth--) {
      const node = depth === 0 ? this.doc.contents : this.doc.getIn(keys.slice(0, depth), true);
      const range = (node as { range?: [number, number, number] | null } | null | undefined)?.range;
      if (range) return this.lines.linePos(range[0]).line;
    }
    return 1;
  }
}

/** `deployments[0].schedules[1].cron` */
function fieldName(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`)).join("");
}

function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let value = root;
  for (const key of path) {
    if (typeof value !== "object" || value === null) return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}

/** The first problem zod found, as a `DeploymentFileError`; unknown fields first, since a typo also makes a field "missing". */
function fileError(source: DeploymentFileSource, raw: unknown, error: z.ZodError): DeploymentFileError {
  const issue = error.issues.find((i) => i.code === "unrecognized_keys") ?? error.issues[0];
  if (issue === undefined) return source.error([], "invalid file");
  if (issue.code === "unrecognized_keys") {
    const key = issue.keys[0] ?? "";
    const known = knownFields(issue.path, valueAt(raw, issue.path));
    return source.error([...issue.path, key], `unknown field${known.length > 0 ? ` (expected one of ${known.join(", ")})` : ""}`, "key");
  }
  if (issue.path.length === 0 && (raw === null || raw === undefined)) {
    return source.error([], "the file is empty; expected `deployments:` and a list of deployments");
  }
  if (issue.code === "invalid_type" && valueAt(raw, issue.path) === undefined) {
    return source.error(issue.path, "required field is missing", "key");
  }
  return source.error(issue.path, issue.message);
}

/** What a deployment entry becomes once its flow is loaded. */
interface PlannedDeployment {
  index: number;
  entry: DeploymentEntry;
  flowName: string;
  body: Omit<DeploymentCreate, "flow_id">;
}

/** The part of a flow this needs, duck-typed: the flow file may use another copy of the SDK. */
interface LoadedFlow {
  readonly name: string;
  readonly description?: string | undefined;
  readonly options?: { readonly version?: string | undefined };
  readonly fn: (...args: never) => unknown;
}

export function configureDeployCommand(program: Command, ctx: CliContext): void {
  program
    .command("deploy")
    .description("Create or update the deployments described in a deployment file (baton.yaml)")
    .option("-f, --file <path>", "the deployment file", "baton.yaml")
    .option("-n, --name <name>", "only this deployment, as NAME or FLOW/NAME (repeatable; default all)", collect)
    .action(async (options: { file: string; name?: string[] }) => {
      const source = readSource(options.file);
      const raw = source.value();
      const parsed = DeploymentFile.safeParse(raw);
      if (!parsed.success) throw fileError(source, raw, parsed.error);
      const entries = parsed.data.deployments.map((entry, index) => ({ entry, index }));

      const plans: PlannedDeployment[] = [];
      for (const { entry, index } of entries) plans.push(await planDeployment(source, entry, index));
      checkUnique(source, plans);
      const selected = select(source, plans, options.name);

      const client = ctx.client();
      await checkWorkPools(source, client, selected);
      for (const plan of selected) {
        const { deployment, created } = await applyDeployment(source, client, plan);
        ctx.stdout.write(`Deployment '${plan.flowName}/${deployment.name}' ${created ? "created" : "updated"} (${deployment.id}): ${describeDeployment(deployment)}\n`);
      }
      const first = selected[0]!;
      const pools = [...new Set(selected.map((p) => p.entry.work_pool.name))];
      ctx.stdout.write(`\nRun one:          baton deployment run '${first.flowName}/${first.entry.name}' --watch\n`);
      ctx.stdout.write(`Start a worker:   ${pools.map((pool) => `baton worker start --pool ${quoteForShell(pool)}`).join("   ")}\n`);
    });
}

function readSource(file: string): DeploymentFileSource {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new CliError(`${file}: no such file (give another with --file)`);
    throw new CliError(`${file}: cannot be read: ${(error as Error).message}`);
  }
  return new DeploymentFileSource(file, text);
}

/**
 * Loads the entry's flow and turns the entry into a deployment body: parameters and
 * schedule parameters must name parameters of the flow, whose schema is recorded.
 */
async function planDeployment(source: DeploymentFileSource, entry: DeploymentEntry, index: number): Promise<PlannedDeployment> {
  const at = (...path: PropertyKey[]) => ["deployments", index, ...path];
  const flow = await loadEntrypointFlow(source, entry.entrypoint, at("entrypoint"));
  const schema = flowParameterSchema(flow);
  const known = Object.keys(schema.properties);
  const checkNames = (parameters: Record<string, unknown> | null | undefined, path: PropertyKey[]) => {
    for (const key of Object.keys(parameters ?? {})) {
      if (!known.includes(key)) {
        throw source.error([...path, key], `matches no parameter of flow '${flow.name}' (its parameters: ${known.join(", ") || "none"})`, "key");
      }
    }
  };
  checkNames(entry.parameters, at("parameters"));
  (entry.schedules ?? []).forEach((schedule, i) => checkNames(schedule.parameters, at("schedules", i, "parameters")));

  const concurrency = entry.concurrency_limit;
  const limit = typeof concurrency === "number" ? concurrency : (concurrency?.limit ?? null);
  const strategy = typeof concurrency === "object" && concurrency !== null ? concurrency.collision_strategy : undefined;
  return {
    index,
    entry,
    flowName: flow.name,
    body: {
      name: entry.name,
      ...(entry.paused === undefined ? {} : { paused: entry.paused }),
      schedules: (entry.schedules ?? []).map((s) => ({
        schedule: apiSchedule(s),
        active: s.active ?? true,
        parameters: s.parameters ?? {},
        max_scheduled_runs: s.max_scheduled_runs ?? null,
      })),
      concurrency_limit: limit,
      concurrency_options: strategy === undefined ? null : { collision_strategy: strategy, grace_period_seconds: null },
      parameter_openapi_schema: { ...schema },
      ...(entry.enforce_parameter_schema === undefined ? {} : { enforce_parameter_schema: entry.enforce_parameter_schema }),
      parameters: entry.parameters ?? {},
      tags: entry.tags ?? [],
      description: entry.description ?? flow.description ?? null,
      version: entry.version ?? flow.options?.version ?? null,
      work_pool_name: entry.work_pool.name,
      work_queue_name: entry.work_pool.work_queue_name ?? null,
      job_variables: entry.work_pool.job_variables ?? {},
      path: source.directory,
      entrypoint: entry.entrypoint,
    },
  };
}

/** Imports the entrypoint the way a worker will (`loadFlow` of @baton/worker), relative to the file's folder. */
async function loadEntrypointFlow(source: DeploymentFileSource, entrypoint: string, path: PropertyKey[]): Promise<LoadedFlow> {
  const { loadFlow, EntrypointError } = await import("@baton/worker");
  try {
    const flow = (await loadFlow(entrypoint, source.directory, process.cwd())) as Partial<LoadedFlow>;
    if (typeof flow.fn !== "function") throw new EntrypointError(entrypoint, "the export is not a flow: make it with flow() from @baton/sdk");
    return flow as LoadedFlow;
  } catch (error) {
    if (error instanceof EntrypointError) throw source.error(path, error.reason.split("\n")[0] ?? error.reason);
    throw error;
  }
}

function checkUnique(source: DeploymentFileSource, plans: readonly PlannedDeployment[]): void {
  const seen = new Set<string>();
  for (const plan of plans) {
    const fullName = `${plan.flowName}/${plan.entry.name}`;
    if (seen.has(fullName)) throw source.error(["deployments", plan.index, "name"], `deployment '${fullName}' is described twice`);
    seen.add(fullName);
  }
}

/** `--name` picks deployments by NAME or FLOW/NAME. */
function select(source: DeploymentFileSource, plans: PlannedDeployment[], names: readonly string[] | undefined): PlannedDeployment[] {
  if (names === undefined || names.length === 0) return plans;
  const all = plans.map((p) => `${p.flowName}/${p.entry.name}`);
  for (const name of names) {
    if (!plans.some((p) => p.entry.name === name || `${p.flowName}/${p.entry.name}` === name)) {
      throw new CliError(`${source.displayPath} describes no deployment named '${name}' (it describes ${all.join(", ")})`);
    }
  }
  return plans.filter((p) => names.includes(p.entry.name) || names.includes(`${p.flowName}/${p.entry.name}`));
}

/** A deployment needs its work pool to exist (the server refuses it otherwise); checked before anything is written. */
async function checkWorkPools(source: DeploymentFileSource, client: BatonClient, plans: readonly PlannedDeployment[]): Promise<void> {
  const checked = new Set<string>();
  for (const plan of plans) {
    const pool = plan.entry.work_pool.name;
    if (checked.has(pool)) continue;
    checked.add(pool);
    try {
      await client.request<WorkPool>("GET", `/work_pools/${encodeURIComponent(pool)}`);
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        throw source.error(
          ["deployments", plan.index, "work_pool", "name"],
          `work pool '${pool}' does not exist on ${client.apiUrl}; create it with: baton work-pool create ${quoteForShell(pool)}`,
        );
      }
      throw error;
    }
  }
}

/**
 * Creates the flow (by name) and upserts the deployment. A field the server refuses (a cron
 * expression it cannot read, a default parameter of the wrong type) is reported as the
 * file's field.
 */
async function applyDeployment(source: DeploymentFileSource, client: BatonClient, plan: PlannedDeployment): Promise<{ deployment: Deployment; created: boolean }> {
  const flow = await client.request<Flow>("POST", "/flows/", { name: plan.flowName });
  const before = await client.request<Deployment>("GET", `/deployments/name/${encodeURIComponent(plan.flowName)}/${encodeURIComponent(plan.entry.name)}`).catch((error: unknown) => {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  });
  try {
    const deployment = await client.request<Deployment>("POST", "/deployments/", { ...plan.body, flow_id: flow.id });
    return { deployment, created: before === undefined };
  } catch (error) {
    if (error instanceof ApiError && error.status === 422) {
      const match = /^(?:Invalid request: )?body\.([\w.]+): (.*)$/s.exec(error.detail);
      if (match) throw source.error(["deployments", plan.index, ...fileFieldOf(match[1]!.split("."))], match[2]!);
    }
    throw error;
  }
}

/** The file's path for a field of the API's body: `schedules.0.schedule.cron` is `schedules[0].cron`. */
function fileFieldOf(apiPath: readonly string[]): PropertyKey[] {
  const path: PropertyKey[] = apiPath.map((p) => (/^\d+$/.test(p) ? Number(p) : p));
  if (path[0] === "schedules" && path[2] === "schedule") path.splice(2, 1);
  if (path[0] === "work_pool_name") return ["work_pool", "name"];
  if (path[0] === "work_queue_name") return ["work_pool", "work_queue_name"];
  if (path[0] === "job_variables") return ["work_pool", "job_variables", ...path.slice(1)];
  return path;
}

function describeDeployment(deployment: Deployment): string {
  const parts = [`work pool '${deployment.work_pool_name ?? "-"}'`];
  const schedules = deployment.schedules.map((s) => `${describeSchedule(s.schedule)}${s.active ? "" : " (inactive)"}`);
  parts.push(schedules.length > 0 ? schedules.join("; ") : "no schedule");
  if (deployment.paused) parts.push("paused");
  return parts.join(", ");
}

function describeSchedule(schedule: Deployment["schedules"][number]["schedule"]): string {
  const zone = schedule.timezone ? ` (${schedule.timezone})` : "";
  if ("cron" in schedule) return `cron "${schedule.cron}"${zone}`;
  if ("interval" in schedule) return `every ${schedule.interval} s${zone}`;
  return `rrule "${schedule.rrule.replace(/\s+/g, " ")}"${zone}`;
}

function quoteForShell(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replace(/'/g, "'\\''")}'`;
}
