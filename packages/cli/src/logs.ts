import { MAX_FILTER_LIMIT, isTerminal, type FlowRun, type Log, type ReceivedEvent, type StateType } from "@baton/core";
import type { BatonClient } from "@baton/sdk";
import { setTimeout as sleep } from "node:timers/promises";
import { readPages } from "./api.js";
import type { CliContext } from "./context.js";
import { orNotFound } from "./errors.js";
import { formatTimestamp, levelName } from "./output.js";
import { ServerStream } from "./streams.js";

/**
 * Logs that arrive with a timestamp up to this far behind the newest one printed are still
 * caught by `--follow` (clients send logs in batches, so arrival order is not time order).
 */
const FOLLOW_LOOKBACK_MS = 10_000;
/** Clients may flush their last logs just after the final state; wait this long for them. */
const FINAL_FLUSH_GRACE_MS = 2_000;

export interface LogOptions {
  /** Print at most this many lines. */
  limit: number | undefined;
  /** Keep polling until the run reaches a terminal state. */
  follow: boolean;
}

/** One log record as a line: `2026-01-31 14:05:09.123 | INFO     | prefect.flow_runs - message`. */
export function formatLog(log: Log): string {
  return `${formatTimestamp(log.timestamp, true)} | ${levelName(log.level).padEnd(8)} | ${log.name} - ${log.message}\n`;
}

/** Prints a flow run's logs oldest first; with `follow`, until the run has finished. */
export async function printFlowRunLogs(ctx: CliContext, flowRunId: string, options: LogOptions): Promise<void> {
  const client = ctx.client();
  const readRun = () => orNotFound(client.readFlowRun(flowRunId), "Flow run", flowRunId);
  let run = await readRun();
  if (!options.follow) {
    await printAll(ctx, client, flowRunId, options.limit);
    return;
  }

  let remaining = options.limit ?? Infinity;
  const printed = new LogFollower(client, flowRunId);
  const print = (logs: Log[]): boolean => {
    for (const log of printed.unseen(logs).slice(0, remaining)) {
      ctx.stdout.write(formatLog(log));
      remaining -= 1;
    }
    return remaining <= 0;
  };
  if (await followThroughStreams(ctx, client.apiUrl, run, printed, print)) return;
  // A server without the streaming websockets (or one that dropped them): poll.
  for (;;) {
    // The state is read before the logs, so every log written before it went terminal is seen.
    const finished = isTerminal(run.state_type);
    if (print(await printed.poll())) return;
    if (finished) {
      const grace = msUntilFlushed(run);
      if (grace > 0) {
        await sleep(grace);
        print(await printed.poll());
      }
      return;
    }
    await sleep(ctx.pollIntervalMs);
    run = await readRun();
  }
}

/**
 * `--follow` through the server's streams rather than polling: subscribe to the run's logs
 * (`logs/out`) and to its state changes (`events/out`), print what was written before, then
 * each log as it arrives, until the run reaches a final state (plus the grace for logs
 * flushed after it). Returns false when the streams are not available (the caller polls).
 */
async function followThroughStreams(ctx: CliContext, apiUrl: string, run: FlowRun, printed: LogFollower, print: (logs: Log[]) => boolean): Promise<boolean> {
  let live: Log[] | undefined = [];
  let done = false;
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const onLog = (log: Log) => {
    if (done) return;
    if (live) live.push(log);
    else if (print([log])) {
      done = true;
      finish();
    }
  };
  let finalAt: number | undefined;
  const onEnd = (at: string) => {
    if (finalAt !== undefined) return;
    finalAt = Date.parse(at);
    const grace = Math.max(0, Math.min(FINAL_FLUSH_GRACE_MS, finalAt + FINAL_FLUSH_GRACE_MS - Date.now()));
    setTimeout(finish, grace);
  };
  let logs: ServerStream;
  let states: ServerStream;
  try {
    logs = await ServerStream.open<Log>(apiUrl, "/logs/out", { type: "filter", filter: { flow_run_id: { any_: [run.id] } } }, "log", onLog);
  } catch {
    return false;
  }
  try {
    states = await ServerStream.open<ReceivedEvent>(
      apiUrl,
      "/events/out",
      { type: "filter", filter: { resource: { id: [`prefect.flow-run.${run.id}`] }, event: { prefix: ["prefect.flow-run."] } }, backfill: false },
      "event",
      (event) => {
        if (isTerminal(event.resource["prefect.state-type"] as StateType | undefined)) onEnd(event.resource["prefect.state-timestamp"] ?? event.occurred);
      },
    );
  } catch {
    logs.close();
    return false;
  }
  try {
    // Subscribed first, then what came before: a log is in one or the other (printed once by id).
    const current = await ctx.client().readFlowRun(run.id);
    if (print(await printed.poll())) return true;
    const waiting = live;
    live = undefined;
    if (print(waiting)) return true;
    if (isTerminal(current.state_type)) onEnd(current.state?.timestamp ?? current.end_time ?? new Date(0).toISOString());
    const dropped = Promise.race([logs.closed, states.closed]).then(() => "dropped" as const);
    if ((await Promise.race([finished.then(() => "finished" as const), dropped])) === "dropped" && !done && finalAt === undefined) {
      ctx.stderr.write("warning: the server closed the log stream; polling instead\n");
      return false;
    }
    // Whatever the stream may have raced past (written while the subscription was being set up).
    if (!done) print(await printed.poll());
    return true;
  } finally {
    done = true;
    logs.close();
    states.close();
  }
}

/** Every log, oldest first, in pages of at most 200 read with `offset` and printed as they arrive. */
async function printAll(ctx: CliContext, client: BatonClient, flowRunId: string, limit: number | undefined): Promise<void> {
  let printed = 0;
  for (;;) {
    const want = Math.min(MAX_FILTER_LIMIT, (limit ?? Infinity) - printed);
    if (want <= 0) return;
    const page = await client.filterLogs({
      logs: { flow_run_id: { any_: [flowRunId] } },
      sort: "TIMESTAMP_ASC",
      offset: printed,
      limit: want,
    });
    for (const log of page) ctx.stdout.write(formatLog(log));
    printed += page.length;
    if (page.length < want) return;
  }
}

/** How long to wait for logs flushed just after a run's final state; 0 once that has passed. */
export function msUntilFlushed(run: FlowRun): number {
  const finishedAt = Date.parse(run.state?.timestamp ?? run.end_time ?? "");
  if (Number.isNaN(finishedAt)) return 0;
  return Math.max(0, Math.min(FINAL_FLUSH_GRACE_MS, finishedAt + FINAL_FLUSH_GRACE_MS - Date.now()));
}

/**
 * Reads the logs not printed yet. Each poll re-reads from a little before the newest log seen
 * and skips the ids already printed, so a late log with an older timestamp is not lost the
 * way it would be with a plain offset.
 */
export class LogFollower {
  private readonly seen = new Map<string, number>();
  private newest = Number.NEGATIVE_INFINITY;

  constructor(
    private readonly client: BatonClient,
    private readonly flowRunId: string,
  ) {}

  /** Those of `logs` not seen yet, which are seen from now on. */
  unseen(logs: readonly Log[]): Log[] {
    const fresh = logs.filter((log) => !this.seen.has(log.id));
    for (const log of fresh) {
      const at = Date.parse(log.timestamp);
      this.seen.set(log.id, at);
      if (at > this.newest) this.newest = at;
    }
    return fresh;
  }

  async poll(): Promise<Log[]> {
    const after = Number.isFinite(this.newest) ? new Date(this.newest - FOLLOW_LOOKBACK_MS).toISOString() : undefined;
    const logs = await readPages<Log>(undefined, (offset, limit) =>
      this.client.filterLogs({
        logs: { flow_run_id: { any_: [this.flowRunId] }, ...(after === undefined ? {} : { timestamp: { after_: after } }) },
        sort: "TIMESTAMP_ASC",
        offset,
        limit,
      }),
    );
    // Not marked seen here: the caller prints through `unseen`, which does.
    const fresh = logs.filter((log) => !this.seen.has(log.id));
    const cutoff = this.newest - FOLLOW_LOOKBACK_MS;
    for (const [id, at] of this.seen) if (at < cutoff) this.seen.delete(id);
    return fresh;
  }
}
