import { Id, isCronSchedule, isIntervalSchedule, type Deployment, type DeploymentSchedule, type FlowRun, type Schedule } from "@baton/core";
import type { BatonClient } from "@baton/sdk";
import { Argument, InvalidArgumentError, Option, type Command } from "commander";
import { readFlowNames, readPages } from "../api.js";
import { parseId, parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { UsageError, orNotFound } from "../errors.js";
import { NONE, formatDetails, formatState, formatTable, formatTimestamp, writeJson } from "../output.js";
import { configureDeploymentRunCommand } from "./deployment-run.js";

/** `baton deployment ...`: the deployments the server knows, their schedules, pausing them. */
export function configureDeploymentCommand(program: Command, ctx: CliContext): void {
  const deployment = program.command("deployment").description("Inspect deployments, pause and resume them, manage their schedules");
  const target = () => new Argument("<name-or-id>", "deployment id, or FLOW/DEPLOYMENT name").argParser(parseDeploymentRef);

  deployment
    .command("ls")
    .description("List deployments by name, as flow-name/deployment-name")
    .option("--json", "print the API objects as JSON")
    .action(async (options: { json?: boolean }) => {
      const client = ctx.client();
      const deployments = await readPages<Deployment>(undefined, (offset, limit) =>
        client.filterDeployments({ sort: "NAME_ASC", offset, limit }),
      );
      if (options.json) return writeJson(ctx.stdout, deployments);
      if (deployments.length === 0) return void ctx.stdout.write("No deployments found.\n");
      const flows = await readFlowNames(client, deployments.map((d) => d.flow_id));
      const rows = deployments
        .map((d) => [
          d.id,
          `${flows.get(d.flow_id) ?? d.flow_id}/${d.name}`,
          d.paused ? "PAUSED" : (d.status ?? NONE),
          String(d.schedules.filter((s) => s.active).length),
          d.work_pool_name ?? NONE,
        ])
        .sort((a, b) => (a[1] ?? "").localeCompare(b[1] ?? ""));
      ctx.stdout.write(formatTable(["ID", "NAME", "STATUS", "SCHEDULES", "WORK POOL"], rows, [3]));
    });

  deployment
    .command("inspect")
    .description("Show a deployment, its schedules and its next scheduled runs")
    .addArgument(target())
    .option("--runs <n>", "how many upcoming runs to show", parseLimit, 10)
    .option("--json", 'print {"deployment", "upcoming_runs"} as JSON')
    .action(async (ref: DeploymentRef, options: { runs: number; json?: boolean }) => {
      const client = ctx.client();
      const dep = await readDeployment(client, ref);
      const [flows, upcoming] = await Promise.all([
        readFlowNames(client, [dep.flow_id]),
        client.request<FlowRun[]>("POST", "/flow_runs/filter", {
          deployments: { id: { any_: [dep.id] } },
          flow_runs: { state: { type: { any_: ["SCHEDULED"] } } },
          sort: "NEXT_SCHEDULED_START_TIME_ASC",
          limit: options.runs,
        }),
      ]);
      if (options.json) return writeJson(ctx.stdout, { deployment: dep, upcoming_runs: upcoming });
      ctx.stdout.write(describeDeployment(dep, flows.get(dep.flow_id)));
      ctx.stdout.write(`\nSchedules (${dep.schedules.length}):\n`);
      ctx.stdout.write(dep.schedules.length === 0 ? "  none\n" : indent(scheduleTable(dep.schedules)));
      ctx.stdout.write(`\nUpcoming runs (${upcoming.length}):\n`);
      ctx.stdout.write(
        upcoming.length === 0
          ? "  none\n"
          : indent(
              formatTable(
                ["ID", "NAME", "STATE", "SCHEDULED"],
                upcoming.map((r) => [r.id, r.name, formatState(r.state_type, r.state_name), formatTimestamp(r.next_scheduled_start_time)]),
              ),
            ),
      );
    });

  deployment
    .command("pause")
    .description("Pause a deployment: its schedules stop and the runs they had scheduled are deleted")
    .addArgument(target())
    .action(async (ref: DeploymentRef) => {
      const client = ctx.client();
      const dep = await readDeployment(client, ref);
      await client.request("POST", `/deployments/${dep.id}/pause_deployment`);
      ctx.stdout.write(`Paused deployment ${await displayName(client, dep)}.\n`);
    });

  deployment
    .command("resume")
    .description("Resume a paused deployment: its active schedules are filled with runs again")
    .addArgument(target())
    .action(async (ref: DeploymentRef) => {
      const client = ctx.client();
      const dep = await readDeployment(client, ref);
      await client.request("POST", `/deployments/${dep.id}/resume_deployment`);
      ctx.stdout.write(`Resumed deployment ${await displayName(client, dep)}.\n`);
    });

  const schedule = deployment.command("schedule").description("List, add and remove a deployment's schedules");

  schedule
    .command("ls")
    .description("List a deployment's schedules")
    .addArgument(target())
    .option("--json", "print the API objects as JSON")
    .action(async (ref: DeploymentRef, options: { json?: boolean }) => {
      const client = ctx.client();
      const dep = await readDeployment(client, ref);
      const schedules = await client.request<DeploymentSchedule[]>("GET", `/deployments/${dep.id}/schedules`);
      if (options.json) return writeJson(ctx.stdout, schedules);
      if (schedules.length === 0) return void ctx.stdout.write("No schedules.\n");
      ctx.stdout.write(scheduleTable(schedules));
    });

  schedule
    .command("add")
    .description("Add a schedule to a deployment: one of --cron, --interval or --rrule")
    .addArgument(target())
    .addOption(new Option("--cron <expression>", 'a cron expression, e.g. "0 9 * * 1-5"'))
    .addOption(new Option("--interval <seconds>", "every this many seconds").argParser(parseSeconds))
    .addOption(new Option("--rrule <rule>", 'an RFC 5545 rule, e.g. "FREQ=WEEKLY;BYDAY=MO"'))
    .option("--timezone <zone>", "IANA time zone the schedule's times are local to, e.g. Europe/Berlin")
    .option("--anchor-date <datetime>", "with --interval: the time the intervals count from")
    .option("--day-and", "with --cron: day-of-month AND day-of-week must both match (default: either)")
    .option("--inactive", "add the schedule switched off")
    .option("--max-scheduled-runs <n>", "keep at most this many runs scheduled ahead", parseLimit)
    .option("--slug <slug>", "a name for the schedule, unique within the deployment")
    .option("--param <key=value>", "a parameter for the schedule's runs; the value is read as JSON, else as text (repeatable)", collectParam)
    .action(async (ref: DeploymentRef, options: ScheduleAddOptions) => {
      const body = scheduleCreateBody(options);
      const client = ctx.client();
      const dep = await readDeployment(client, ref);
      const [created] = await client.request<DeploymentSchedule[]>("POST", `/deployments/${dep.id}/schedules`, [body]);
      ctx.stdout.write(`Added schedule ${created!.id} (${describeSchedule(created!.schedule)}) to ${await displayName(client, dep)}.\n`);
    });

  schedule
    .command("rm")
    .description("Remove a schedule from a deployment, with the future runs it had scheduled")
    .addArgument(target())
    .addArgument(new Argument("<schedule-id>", "schedule id (see `baton deployment schedule ls`)").argParser(parseId))
    .action(async (ref: DeploymentRef, scheduleId: string) => {
      const client = ctx.client();
      const dep = await readDeployment(client, ref);
      await orNotFound(client.request("DELETE", `/deployments/${dep.id}/schedules/${scheduleId}`), "Schedule", scheduleId);
      ctx.stdout.write(`Removed schedule ${scheduleId} from ${await displayName(client, dep)}.\n`);
    });
  configureDeploymentRunCommand(deployment, ctx);
}

/** How a deployment is named on the command line: its id, or `flow-name/deployment-name`. */
type DeploymentRef = { id: string } | { flow: string; name: string };

function parseDeploymentRef(value: string): DeploymentRef {
  const text = value.trim();
  const id = Id.safeParse(text);
  if (id.success) return { id: id.data };
  const slash = text.indexOf("/");
  if (slash > 0 && slash < text.length - 1 && text.indexOf("/", slash + 1) < 0) return { flow: text.slice(0, slash), name: text.slice(slash + 1) };
  throw new InvalidArgumentError("Expected a deployment id or FLOW/DEPLOYMENT, e.g. etl/nightly.");
}

async function readDeployment(client: BatonClient, ref: DeploymentRef): Promise<Deployment> {
  if ("id" in ref) return orNotFound(client.request<Deployment>("GET", `/deployments/${ref.id}`), "Deployment", ref.id);
  const label = `${ref.flow}/${ref.name}`;
  return orNotFound(
    client.request<Deployment>("GET", `/deployments/name/${encodeURIComponent(ref.flow)}/${encodeURIComponent(ref.name)}`),
    "Deployment",
    label,
  );
}

async function displayName(client: BatonClient, dep: Deployment): Promise<string> {
  const flows = await readFlowNames(client, [dep.flow_id]);
  return `${flows.get(dep.flow_id) ?? dep.flow_id}/${dep.name}`;
}

function describeDeployment(dep: Deployment, flowName: string | undefined): string {
  const strategy = dep.concurrency_options?.collision_strategy ?? "ENQUEUE";
  return formatDetails([
    ["ID", dep.id],
    ["Name", `${flowName ?? dep.flow_id}/${dep.name}`],
    ["Status", dep.paused ? "PAUSED" : (dep.status ?? NONE)],
    ["Version", dep.version ?? NONE],
    ["Description", dep.description ?? NONE],
    ["Entrypoint", dep.entrypoint ?? NONE],
    ["Work pool", dep.work_pool_name ?? NONE],
    ["Work queue", dep.work_queue_name ?? NONE],
    ["Concurrency", dep.concurrency_limit === null ? NONE : `${dep.concurrency_limit} (${strategy})`],
    ["Tags", dep.tags.length === 0 ? NONE : dep.tags.join(", ")],
    ["Parameters", JSON.stringify(dep.parameters)],
    ["Created", formatTimestamp(dep.created)],
    ["Updated", formatTimestamp(dep.updated)],
    ["Last polled", formatTimestamp(dep.last_polled)],
  ]);
}

function scheduleTable(schedules: DeploymentSchedule[]): string {
  return formatTable(
    ["ID", "SCHEDULE", "ACTIVE", "MAX RUNS", "SLUG", "PARAMETERS"],
    schedules.map((s) => [
      s.id,
      describeSchedule(s.schedule),
      s.active ? "yes" : "no",
      s.max_scheduled_runs === null ? NONE : String(s.max_scheduled_runs),
      s.slug ?? NONE,
      Object.keys(s.parameters).length === 0 ? NONE : JSON.stringify(s.parameters),
    ]),
  );
}

/** `cron "0 9 * * *" (Europe/Berlin)`, `every 1h from 2026-01-01 00:00:00`, `rrule "FREQ=DAILY" (UTC)`. */
export function describeSchedule(schedule: Schedule): string {
  if (isCronSchedule(schedule)) return `cron "${schedule.cron}" (${schedule.timezone ?? "UTC"})${schedule.day_or ? "" : " day-and"}`;
  if (isIntervalSchedule(schedule)) {
    const zone = schedule.timezone ? ` (${schedule.timezone})` : "";
    return `every ${formatInterval(schedule.interval)} from ${formatTimestamp(schedule.anchor_date)}${zone}`;
  }
  return `rrule "${schedule.rrule.replace(/\s*\n\s*/g, " ")}" (${schedule.timezone})`;
}

function formatInterval(seconds: number): string {
  const units: Array<[number, string]> = [
    [86_400, "d"],
    [3600, "h"],
    [60, "m"],
    [1, "s"],
  ];
  for (const [size, unit] of units) if (seconds >= size && seconds % size === 0) return `${seconds / size}${unit}`;
  return `${seconds}s`;
}

interface ScheduleAddOptions {
  cron?: string;
  interval?: number;
  rrule?: string;
  timezone?: string;
  anchorDate?: string;
  dayAnd?: boolean;
  inactive?: boolean;
  maxScheduledRuns?: number;
  slug?: string;
  param?: Record<string, unknown>;
}

/** The body of `POST /deployments/{id}/schedules` for one schedule; the server checks the rest. */
function scheduleCreateBody(options: ScheduleAddOptions): Record<string, unknown> {
  const kinds = [options.cron, options.interval, options.rrule].filter((v) => v !== undefined);
  if (kinds.length !== 1) throw new UsageError("give exactly one of --cron, --interval or --rrule");
  if (options.anchorDate !== undefined && options.interval === undefined) throw new UsageError("--anchor-date goes with --interval");
  if (options.dayAnd && options.cron === undefined) throw new UsageError("--day-and goes with --cron");
  const timezone = options.timezone === undefined ? {} : { timezone: options.timezone };
  const schedule =
    options.cron !== undefined
      ? { cron: options.cron, day_or: !options.dayAnd, ...timezone }
      : options.interval !== undefined
        ? { interval: options.interval, ...(options.anchorDate === undefined ? {} : { anchor_date: options.anchorDate }), ...timezone }
        : { rrule: options.rrule, ...timezone };
  return {
    schedule,
    active: !options.inactive,
    ...(options.maxScheduledRuns === undefined ? {} : { max_scheduled_runs: options.maxScheduledRuns }),
    ...(options.slug === undefined ? {} : { slug: options.slug }),
    parameters: options.param ?? {},
  };
}

/** `--interval 3600`: a positive number of seconds. */
function parseSeconds(value: string): number {
  const n = Number(value.trim());
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("Expected a positive number of seconds.");
  return n;
}

/** Repeatable `--param key=value`: the value is JSON when it parses as JSON (`3`, `true`, `"x"`, `[1]`), else text. */
function collectParam(value: string, previous: Record<string, unknown> | undefined): Record<string, unknown> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError("Expected KEY=VALUE.");
  const key = value.slice(0, eq);
  const raw = value.slice(eq + 1);
  let parsed: unknown = raw;
  try {
    parsed = JSON.parse(raw);
  } catch {
    // Not JSON: the text itself.
  }
  return { ...(previous ?? {}), [key]: parsed };
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, "  ");
}
