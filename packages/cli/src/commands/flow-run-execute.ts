import { Id } from "@baton/core";
import { configure } from "@baton/sdk";
import { createContext, type CliContext } from "../context.js";
import { CliError, exitCodeOf, orNotFound } from "../errors.js";
import { formatState } from "../output.js";

/**
 * `baton flow-run execute ID`: runs the flow of this run's deployment in this process (what a
 * worker starts for each run). Rejects with a `CliError` when the run does not end COMPLETED.
 */
export async function executeFlowRunCommand(ctx: CliContext, id: string): Promise<void> {
  const { executeFlowRun } = await import("@baton/worker");
  const client = ctx.client();
  if (ctx.stdout === process.stdout) keepRunningWithoutOutput();
  // The flow reports to the same server. Its SDK may be another copy than this one, and
  // every copy reads the environment; this copy is also configured, for in-process use.
  configure({ apiUrl: client.apiUrl });
  if (ctx.env === process.env) process.env["BATON_API_URL"] = client.apiUrl;
  const result = await orNotFound(executeFlowRun({ client, flowRunId: id }), "Flow run", id);
  if (!result.ok) throw new CliError(`Flow run '${result.flowRun.name}' (${id}) ended in state ${formatState(result.state.type, result.state.name)}`);
}

/**
 * The id of a plain `flow-run execute ID` command line, or undefined for anything else
 * (options, help, a malformed id), which goes through the whole program and its messages.
 */
export function plainExecuteId(args: readonly string[]): string | undefined {
  if (args.length !== 3 || args[0] !== "flow-run" || args[1] !== "execute") return undefined;
  const parsed = Id.safeParse(args[2]);
  return parsed.success ? parsed.data.toLowerCase() : undefined;
}

/**
 * `baton flow-run execute ID` without building the rest of the program: a worker starts this
 * once per flow run, and loading every command (commander, yaml, their modules) cost about a
 * third of each run process's start-up CPU. Errors are reported as `runCli` reports them.
 */
export async function runPlainExecute(id: string): Promise<number> {
  const ctx = createContext();
  return exitCodeOf(ctx, () => executeFlowRunCommand(ctx, id));
}

/**
 * A worker reads this process's output through pipes; if the worker is killed, writing to
 * them fails with EPIPE. The run must go on (its logs and states reach the API directly), so
 * here output errors are ignored instead of ending the process as for other commands.
 */
function keepRunningWithoutOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.removeAllListeners("error");
    stream.on("error", () => undefined);
  }
}
