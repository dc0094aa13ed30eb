import type { FlowRun, State, StateType, TaskRun } from "@baton/core";
import { Argument, type Command } from "commander";
import { readFlowNames, readPages, readTaskRunCounts } from "../api.js";
import { collect, collectStateTypes, parseId, parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { CliError, orNotFound, UsageError } from "../errors.js";
import { printFlowRunLogs } from "../logs.js";
import { executeFlowRunCommand } from "./flow-run-execute.js";
import {
  NONE,
  formatDetails,
  formatState,
  formatTable,
  formatTimestamp,
  runDuration,
  writeJson,
} from "../output.js";

/** `baton flow-run ...`: list, inspect and read the logs of flow runs; execute one (in a worker's process). */
export function configureFlowRunCommand(program: Command, ctx: CliContext): void {
  const flowRun = program.command("flow-run").description("Inspect flow runs and their logs, or execute one");

  flowRun
    .command("ls")
    .description("List flow runs, newest first")
    .option("--state <state...>", "only runs in these state types, e.g. completed failed (repeatable)", collectStateTypes)
    .option("--flow <name>", "only runs of this flow (repeatable)", collect)
    .option("--limit <n>", "most runs to list", parseLimit, 15)
    .option("--json", "print the API objects as JSON")
    .action(async (options: { state?: StateType[]; flow?: string[]; limit: number; json?: boolean }) => {
      const client = ctx.client();
      const criteria = {
        ...(options.state === undefined ? {} : { flow_runs: { state: { type: { any_: options.state } } } }),
        ...(options.flow === undefined ? {} : { flows: { name: { any_: options.flow } } }),
      };
      const runs = await readPages<FlowRun>(options.limit, (offset, limit) =>
        client.filterFlowRuns({ ...criteria, sort: "EXPECTED_START_TIME_DESC", offset, limit }),
      );
      if (options.json) return writeJson(ctx.stdout, runs);
      if (runs.length === 0) return void ctx.stdout.write("No flow runs found.\n");
      const [flows, taskRunCounts] = await Promise.all([
        readFlowNames(client, runs.map((run) => run.flow_id)),
        readTaskRunCounts(client, runs.map((run) => run.id)),
      ]);
      ctx.stdout.write(
        formatTable(
          ["ID", "NAME", "FLOW", "STATE", "START", "DURATION", "TASKS"],
          runs.map((run) => [
            run.id,
            run.name,
            flows.get(run.flow_id) ?? run.flow_id,
            formatState(run.state_type, run.state_name),
            formatTimestamp(run.start_time ?? run.expected_start_time),
            runDuration(run),
            String(taskRunCounts.get(run.id) ?? NONE),
          ]),
          [5, 6],
        ),
      );
    });

  flowRun
    .command("resume")
    .description("Resume a paused or suspended flow run, with the input it waits for")
    .addArgument(new Argument("<id>", "flow run id").argParser(parseId))
    .option("--input <json>", "the input, as a JSON object (checked against the schema the run asked for)")
    .action(async (id: string, options: { input?: string }) => {
      let runInput: unknown;
      if (options.input !== undefined) {
        try {
          runInput = JSON.parse(options.input);
        } catch (error) {
          throw new UsageError(`--input is not valid JSON: ${(error as Error).message}`);
        }
        if (typeof runInput !== "object" || runInput === null || Array.isArray(runInput)) throw new UsageError("--input must be a JSON object");
      }
      const result = await orNotFound(
        ctx.client().request<{ status: string; state: State | null; details: { reason?: string | null } }>("POST", `/flow_runs/${id}/resume`, runInput === undefined ? {} : { run_input: runInput }),
        "Flow run",
        id,
      );
      if (result.status !== "ACCEPT") throw new CliError(`The flow run was not resumed (${result.status}): ${result.details.reason ?? "no reason given"}`);
      ctx.stdout.write(`Resumed flow run ${id}: now ${formatState(result.state?.type ?? null, result.state?.name ?? null)}\n`);
    });

  flowRun
    .command("inspect")
    .description("Show a flow run, its state history and its task runs")
    .addArgument(new Argument("<id>", "flow run id").argParser(parseId))
    .option("--json", 'print {"flow_run", "states", "task_runs"} as JSON')
    .action(async (id: string, options: { json?: boolean }) => {
      const client = ctx.client();
      const run = await orNotFound(client.readFlowRun(id), "Flow run", id);
      const [states, taskRuns, flows] = await Promise.all([
        client.readFlowRunStates(id),
        readPages<TaskRun>(undefined, (offset, limit) =>
          client.filterTaskRuns({ flow_runs: { id: { any_: [id] } }, sort: "EXPECTED_START_TIME_ASC", offset, limit }),
        ),
        readFlowNames(client, [run.flow_id]),
      ]);
      const history = [...states].sort((a, b) => Date.parse(a.timestamp) - Date.parse(b.timestamp));
      if (options.json) return writeJson(ctx.stdout, { flow_run: run, states: history, task_runs: taskRuns });
      ctx.stdout.write(describeRun(run, flows.get(run.flow_id)));
      ctx.stdout.write(`\nState history (${history.length}):\n`);
      ctx.stdout.write(history.length === 0 ? "  none\n" : indent(stateTable(history)));
      ctx.stdout.write(`\nTask runs (${taskRuns.length}):\n`);
      ctx.stdout.write(taskRuns.length === 0 ? "  none\n" : indent(taskRunTable(taskRuns)));
    });

  flowRun
    .command("logs")
    .description("Print a flow run's logs, oldest first")
    .addArgument(new Argument("<id>", "flow run id").argParser(parseId))
    .option("-f, --follow", "keep printing new logs until the run finishes")
    .option("--limit <n>", "print at most this many lines", parseLimit)
    .action(async (id: string, options: { follow?: boolean; limit?: number }) => {
      await printFlowRunLogs(ctx, id, { follow: options.follow === true, limit: options.limit });
    });

  flowRun
    .command("execute")
    .description("Run the flow of this flow run's deployment in this process, for this run (what a worker starts for each run); exits 0 if it completes")
    .addArgument(new Argument("<id>", "flow run id").argParser(parseId))
    .action((id: string) => executeFlowRunCommand(ctx, id));
}

function describeRun(run: FlowRun, flowName: string | undefined): string {
  const state = formatState(run.state_type, run.state_name);
  const pairs: [string, string][] = [
    ["ID", run.id],
    ["Name", run.name],
    ["Flow", flowName === undefined ? run.flow_id : `${flowName} (${run.flow_id})`],
    ["State", run.state_type !== null && state.toUpperCase() !== run.state_type ? `${state} (${run.state_type})` : state],
  ];
  if (run.state?.message) pairs.push(["Message", run.state.message]);
  pairs.push(
    ["Created", formatTimestamp(run.created)],
    ["Expected start", formatTimestamp(run.expected_start_time)],
    ["Start", formatTimestamp(run.start_time)],
    ["End", formatTimestamp(run.end_time)],
    ["Duration", runDuration(run)],
    ["Run count", String(run.run_count)],
    ["Deployment", run.deployment_id ?? NONE],
    ["Parent task run", run.parent_task_run_id ?? NONE],
    ["Work pool", run.work_pool_name ?? NONE],
    ["Tags", run.tags.length === 0 ? NONE : run.tags.join(", ")],
    ["Parameters", JSON.stringify(run.parameters)],
  );
  return formatDetails(pairs);
}

function stateTable(states: State[]): string {
  return formatTable(
    ["TIME", "TYPE", "NAME", "MESSAGE"],
    states.map((s) => [formatTimestamp(s.timestamp, true), s.type, s.name ?? NONE, firstLine(s.message)]),
  );
}

function taskRunTable(taskRuns: TaskRun[]): string {
  return formatTable(
    ["ID", "NAME", "STATE", "START", "DURATION"],
    taskRuns.map((t) => [
      t.id,
      t.name,
      formatState(t.state_type, t.state_name),
      formatTimestamp(t.start_time ?? t.expected_start_time),
      runDuration(t),
    ]),
    [4],
  );
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, "  ");
}

/** A state message can hold a whole traceback; the table shows its first line. */
function firstLine(text: string | null): string {
  if (text == null || text === "") return NONE;
  const [first = ""] = text.split("\n");
  return first.length > 120 ? `${first.slice(0, 119)}…` : first;
}
