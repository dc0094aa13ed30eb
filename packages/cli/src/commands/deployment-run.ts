import { setTimeout as sleep } from "node:timers/promises";
import { ApiError, Id, isTerminal, type Deployment, type FlowRun, type Log, type State } from "@baton/core";
import type { BatonClient } from "@baton/sdk";
import { Argument, InvalidArgumentError, type Command } from "commander";
import type { CliContext } from "../context.js";
import { CliError, orNotFound } from "../errors.js";
import { formatLog, LogFollower, msUntilFlushed } from "../logs.js";
import { formatState, formatTimestamp } from "../output.js";

interface DeploymentRunOptions {
  param?: Record<string, unknown>;
  params?: Record<string, unknown>;
  watch?: boolean;
  watchInterval?: number;
}

/**
 * `baton deployment run FLOW/DEPLOYMENT`: creates a run of a deployment (Scheduled for now,
 * for its worker or `serve()` process to pick up). With `--watch` it prints the run's states
 * and logs as they come and exits 0 if the run completes, 1 otherwise, as Prefect's
 * `prefect deployment run --watch` does.
 */
export function configureDeploymentRunCommand(deployment: Command, ctx: CliContext): void {
  deployment
    .command("run")
    .description("Start a run of a deployment; with --watch, follow it to its end (exit 1 unless it completes)")
    .addArgument(new Argument("<name-or-id>", "the deployment: FLOW/DEPLOYMENT (e.g. etl/nightly) or its id").argParser(parseDeploymentRef))
    .option("-p, --param <key=value>", "a parameter of the run (repeatable); the value is read as JSON when it parses as JSON, else as text", collectParam)
    .option("--params <json>", "the run's parameters as a JSON object (--param values win)", parseParamsJson)
    .option("--watch", "print the run's states and logs until it finishes; exit 1 unless it completes")
    .option("--watch-interval <seconds>", "seconds between polls while watching (default 1)", parseSeconds)
    .action(async (ref: DeploymentRef, options: DeploymentRunOptions) => {
      const client = ctx.client();
      const { deployment: target, fullName } = await readDeployment(client, ref);
      const parameters = { ...options.params, ...options.param };
      const run = await createRun(client, target, fullName, parameters);
      ctx.stdout.write(`Created flow run '${run.name}' (${run.id}) of deployment '${fullName}'\n`);
      ctx.stdout.write(`  parameters: ${JSON.stringify(run.parameters)}\n`);
      ctx.stdout.write(`  scheduled:  ${formatTimestamp(run.next_scheduled_start_time ?? run.expected_start_time)}\n`);
      const runner = target.work_pool_name === null ? "a serve() process serving the deployment" : `a worker of work pool '${target.work_pool_name}'`;
      if (!options.watch) {
        ctx.stdout.write(`  run by:     ${runner}; follow it with: baton flow-run logs ${run.id} --follow\n`);
        return;
      }
      ctx.stdout.write(`Watching flow run '${run.name}', to be run by ${runner} (Ctrl+C stops watching, not the run)\n`);
      const final = await watchRun(ctx, client, run.id, options.watchInterval === undefined ? ctx.pollIntervalMs : options.watchInterval * 1000);
      const state = formatState(final.state_type, final.state_name);
      if (final.state_type !== "COMPLETED") {
        const message = final.state?.message ? `: ${final.state.message}` : "";
        throw new CliError(`Flow run '${final.name}' (${final.id}) finished in state ${state}${message}`);
      }
      ctx.stdout.write(`Flow run '${final.name}' finished in state ${state}\n`);
    });
}

async function createRun(client: BatonClient, deployment: Deployment, fullName: string, parameters: Record<string, unknown>): Promise<FlowRun> {
  try {
    return await client.request<FlowRun>("POST", `/deployments/${deployment.id}/create_flow_run`, { parameters });
  } catch (error) {
    // A parameter the deployment's schema refuses: "body.parameters.limit: must be number".
    if (error instanceof ApiError && error.status === 422) {
      throw new CliError(`Deployment '${fullName}' refused the run: ${error.detail.replace(/^(?:Invalid request: )?body\./, "")}`);
    }
    throw error;
  }
}

/**
 * Prints each new state and log line of the run, oldest first, until it is in a terminal
 * state (and the logs sent just after it have had time to arrive); returns the run then.
 */
async function watchRun(ctx: CliContext, client: BatonClient, flowRunId: string, intervalMs: number): Promise<FlowRun> {
  const logs = new LogFollower(client, flowRunId);
  const printedStates = new Set<string>();
  const printNew = async () => {
    const states = (await client.readFlowRunStates(flowRunId)).filter((s) => !printedStates.has(s.id));
    for (const s of states) printedStates.add(s.id);
    const lines: Array<{ at: number; text: string }> = [
      ...states.map((s) => ({ at: Date.parse(s.timestamp), text: formatStateLine(s) })),
      ...(await logs.poll()).map((log: Log) => ({ at: Date.parse(log.timestamp), text: formatLog(log) })),
    ];
    for (const line of lines.sort((a, b) => a.at - b.at)) ctx.stdout.write(line.text);
  };
  for (;;) {
    // The run is read before its states and logs, so all of them up to a final state are printed.
    const run = await client.readFlowRun(flowRunId);
    await printNew();
    if (isTerminal(run.state_type)) {
      const grace = msUntilFlushed(run);
      if (grace > 0) {
        await sleep(grace);
        await printNew();
      }
      return run;
    }
    await sleep(intervalMs);
  }
}

/** A state as a line among the logs: `2026-01-31 14:05:09.123 | STATE    | Running - message`. */
function formatStateLine(state: State): string {
  const message = state.message ? ` - ${state.message.split("\n")[0]}` : "";
  return `${formatTimestamp(state.timestamp, true)} | ${"STATE".padEnd(8)} | ${formatState(state.type, state.name)}${message}\n`;
}

type DeploymentRef = { id: string } | { flow: string; deployment: string };

/** `etl/nightly` (a flow name and a deployment name, neither of which may hold a slash), or a deployment id. */
function parseDeploymentRef(value: string): DeploymentRef {
  const id = Id.safeParse(value.trim());
  if (id.success) return { id: id.data.toLowerCase() };
  const match = /^([^/]+)\/([^/]+)$/.exec(value.trim());
  if (!match) throw new InvalidArgumentError("Expected flow-name/deployment-name (e.g. etl/nightly) or a deployment id.");
  return { flow: match[1]!, deployment: match[2]! };
}

async function readDeployment(client: BatonClient, ref: DeploymentRef): Promise<{ deployment: Deployment; fullName: string }> {
  if ("flow" in ref) {
    const fullName = `${ref.flow}/${ref.deployment}`;
    const path = `/deployments/name/${encodeURIComponent(ref.flow)}/${encodeURIComponent(ref.deployment)}`;
    return { deployment: await orNotFound(client.request<Deployment>("GET", path), "Deployment", fullName), fullName };
  }
  const deployment = await orNotFound(client.request<Deployment>("GET", `/deployments/${ref.id}`), "Deployment", ref.id);
  const flow = await client.readFlow(deployment.flow_id);
  return { deployment, fullName: `${flow.name}/${deployment.name}` };
}

/** `--param key=value`: the value as JSON when it parses (`10`, `true`, `[1,2]`, `"007"`), else as text. */
function collectParam(value: string, previous: Record<string, unknown> | undefined): Record<string, unknown> {
  const eq = value.indexOf("=");
  const key = eq < 0 ? "" : value.slice(0, eq).trim();
  if (key === "") throw new InvalidArgumentError("Expected key=value, e.g. --param date=2026-01-31.");
  const text = value.slice(eq + 1);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = text;
  }
  return { ...previous, [key]: parsed };
}

function parseParamsJson(value: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch (error) {
    throw new InvalidArgumentError(`Not valid JSON (${(error as Error).message}); expected an object, e.g. '{"date": "2026-01-31"}'.`);
  }
  if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
    throw new InvalidArgumentError(`Expected a JSON object, e.g. '{"date": "2026-01-31"}'.`);
  }
  return parsed as Record<string, unknown>;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("Expected a number of seconds above 0.");
  return n;
}
