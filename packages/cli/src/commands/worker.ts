import { randomUUID } from "node:crypto";
import { InvalidArgumentError, type Command } from "commander";
import { collect, parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { flowRunCommand } from "../run-process-command.js";

interface WorkerStartOptions {
  pool: string;
  workQueue?: string[];
  name?: string;
  limit?: number;
  prefetchSeconds: number;
  querySeconds: number;
  heartbeatSeconds: number;
  cancelGraceSeconds: number;
  shutdownGraceSeconds: number;
}

/** `baton worker ...`: run a worker that executes a work pool's flow runs. */
export function configureWorkerCommand(program: Command, ctx: CliContext): void {
  const worker = program.command("worker").description("Run workers that execute the flow runs of a work pool");

  worker
    .command("start")
    .description("Poll a work pool and run each of its flow runs in a process of its own, until Ctrl+C (SIGINT) or SIGTERM")
    .requiredOption("-p, --pool <name>", "the work pool to poll (created, of type process, if missing)")
    .option("-q, --work-queue <name>", "only this queue of the pool (repeatable; default all)", collect)
    .option("-n, --name <name>", "the worker's name (default: ProcessWorker <uuid>)")
    .option("-l, --limit <n>", "most flow runs this worker runs at once (default: no limit)", parseLimit)
    .option("--prefetch-seconds <s>", "claim runs scheduled up to this far ahead", parseSeconds, 10)
    .option("--query-seconds <s>", "pause between polls", parseSeconds, 10)
    .option("--heartbeat-seconds <s>", "how often the worker tells the server it is alive", parseSeconds, 30)
    .option("--cancel-grace-seconds <s>", "after SIGTERM, how long a cancelled run's process has before SIGKILL", parseSeconds, 10)
    .option("--shutdown-grace-seconds <s>", "on SIGINT/SIGTERM, how long to wait for running flow runs before exiting (they keep running)", parseSeconds, 30)
    .action(async (options: WorkerStartOptions) => {
      const { ProcessWorker, stderrLogger } = await import("@baton/worker");
      const client = ctx.client();
      // Listen before starting, so that a signal that arrives during start-up still stops cleanly.
      const shutdown = ctx.waitForShutdown();
      const name = options.name ?? `ProcessWorker ${randomUUID()}`;
      const worker = new ProcessWorker({
        client,
        workPoolName: options.pool,
        workQueueNames: options.workQueue,
        name,
        limit: options.limit,
        prefetchSeconds: options.prefetchSeconds,
        querySeconds: options.querySeconds,
        heartbeatSeconds: options.heartbeatSeconds,
        cancelGraceSeconds: options.cancelGraceSeconds,
        command: flowRunCommand(),
        env: ctx.env,
        echo: ctx.stdout,
        logger: stderrLogger(name, ctx.stderr, ctx.env["BATON_DEBUG"] === "1"),
      });
      await worker.start();
      const signal = await shutdown;
      ctx.stderr.write(`Received ${signal}; stopping the worker...\n`);
      await worker.stop(options.shutdownGraceSeconds);
    });
}

/** `--query-seconds S` and the like: a number of seconds above 0 (fractions allowed). */
function parseSeconds(value: string): number {
  const n = /^\d+(\.\d+)?$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError("Expected a number of seconds above 0, e.g. 10 or 0.5.");
  return n;
}
