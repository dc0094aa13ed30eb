import { BATON_VERSION } from "@baton/core";
import { Command } from "commander";
import { configureBlockCommand } from "./commands/block.js";
import { configureResultStorageCommand } from "./commands/result-storage.js";
import { configureConfigCommand } from "./commands/config.js";
import { configureDeployCommand } from "./commands/deploy.js";
import { configureEventCommand } from "./commands/event.js";
import { configureDeploymentCommand } from "./commands/deployment.js";
import { configureFlowRunCommand } from "./commands/flow-run.js";
import { configureFlowCommand } from "./commands/flow.js";
import { configureServerCommand } from "./commands/server.js";
import { configureVariableCommand } from "./commands/variable.js";
import { configureGlobalConcurrencyLimitCommand, configureTagConcurrencyLimitCommand } from "./commands/concurrency-limit.js";
import { configureArtifactCommand } from "./commands/artifact.js";
import { configureAutomationCommand } from "./commands/automation.js";
import { configureWebhookCommand } from "./commands/webhook.js";
import { configureWorkerCommand } from "./commands/worker.js";
import { configureWorkPoolCommand, configureWorkQueueCommand } from "./commands/work-pool.js";
import { createContext, DEFAULT_API_URL, type CliContext } from "./context.js";
import { exitCodeOf, oneLine } from "./errors.js";

/**
 * The `baton` program. Commander never exits the process itself (`exitOverride`): its usage
 * errors are thrown, written as one line, and become exit code 2 in `runCli`.
 */
export function buildProgram(ctx: CliContext): Command {
  const program = new Command("baton")
    .description("Baton: workflow orchestration for TypeScript, speaking Prefect's REST API v3")
    .version(BATON_VERSION, "-V, --version", "print the version")
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void ctx.stdout.write(text),
      writeErr: (text) => void ctx.stderr.write(text),
      // Commander puts "(Did you mean ...?)" on a second line; scripts and people get one.
      outputError: (text, write) => write(`${oneLine(text)}\n`),
    })
    .addHelpText(
      "after",
      `\nEnvironment:\n  BATON_API_URL  the server the commands talk to (default: ${DEFAULT_API_URL})\n` +
        "  BATON_*        server settings; see `baton config view`\n",
    );
  configureServerCommand(program, ctx);
  configureFlowCommand(program, ctx);
  configureFlowRunCommand(program, ctx);
  configureDeploymentCommand(program, ctx);
  configureDeployCommand(program, ctx);
  configureWorkerCommand(program, ctx);
  configureWorkPoolCommand(program, ctx);
  configureWorkQueueCommand(program, ctx);
  configureBlockCommand(program, ctx);
  configureResultStorageCommand(program, ctx);
  configureConfigCommand(program, ctx);
  configureVariableCommand(program, ctx);
  configureArtifactCommand(program, ctx);
  configureGlobalConcurrencyLimitCommand(program, ctx);
  configureTagConcurrencyLimitCommand(program, ctx);
  configureAutomationCommand(program, ctx);
  configureWebhookCommand(program, ctx);
  configureEventCommand(program, ctx);
  return program;
}

/**
 * Runs one command line (without `node` and the script) and returns the exit code: 0 done,
 * 1 failed (server unreachable, not found...), 2 called the wrong way. Errors are written to
 * `stderr` as one line; nothing is thrown.
 *
 * @example
 * const code = await runCli(["flow-run", "ls", "--state", "failed"], { env: { BATON_API_URL: url } });
 */
export async function runCli(args: readonly string[], overrides: Partial<CliContext> = {}): Promise<number> {
  const ctx = createContext(overrides);
  return exitCodeOf(ctx, () => buildProgram(ctx).parseAsync([...args], { from: "user" }));
}
