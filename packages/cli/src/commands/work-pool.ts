import { ApiError, Name, type Worker, type WorkPool, type WorkQueue } from "@baton/core";
import type { BatonClient } from "@baton/sdk";
import { Argument, InvalidArgumentError, type Command } from "commander";
import { readPages } from "../api.js";
import { parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { CliError, orNotFound } from "../errors.js";
import { NONE, formatDetails, formatTable, formatTimestamp, writeJson } from "../output.js";

/** A pool or queue name as the server accepts it, checked before any request. */
function parseName(value: string): string {
  const parsed = Name.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`A name ${parsed.error.issues[0]?.message ?? "is invalid"}.`);
  return value;
}

/** A concurrency limit: a whole number of runs, 0 or more. */
function parseConcurrencyLimit(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > 2147483647) throw new InvalidArgumentError("Expected a whole number, 0 or more.");
  return n;
}

const path = (name: string) => `/work_pools/${encodeURIComponent(name)}`;

/** A 409 from the server becomes one line with its message ("... already exists"). */
async function orConflict<T>(promise: Promise<T>): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && error.status === 409) throw new CliError(error.detail);
    throw error;
  }
}

function slots(limit: number | null, active: number | null): string {
  return limit === null ? NONE : `${active ?? 0}/${limit}`;
}

function poolStatus(pool: WorkPool): string {
  return pool.is_paused ? "PAUSED" : (pool.status ?? NONE);
}

/** `baton work-pool ...`: the pools workers take runs from. */
export function configureWorkPoolCommand(program: Command, ctx: CliContext): void {
  const workPool = program.command("work-pool").description("Create, inspect, pause and limit work pools");
  const poolName = () => new Argument("<name>", "work pool name").argParser(parseName);

  workPool
    .command("create")
    .description("Create a work pool with its default queue")
    .addArgument(poolName())
    .option("--type <type>", "the kind of worker that serves it", "process")
    .option("--concurrency-limit <n>", "most runs in the pool at once", parseConcurrencyLimit)
    .option("--paused", "create it paused: workers get no runs until it is resumed")
    .option("--json", "print the API object as JSON")
    .action(async (name: string, options: { type: string; concurrencyLimit?: number; paused?: boolean; json?: boolean }) => {
      const pool = await orConflict(
        ctx.client().request<WorkPool>("POST", "/work_pools/", {
          name,
          type: options.type,
          concurrency_limit: options.concurrencyLimit ?? null,
          is_paused: options.paused === true,
        }),
      );
      if (options.json) return writeJson(ctx.stdout, pool);
      const limit = pool.concurrency_limit === null ? "no concurrency limit" : `concurrency limit ${pool.concurrency_limit}`;
      ctx.stdout.write(`Created work pool '${pool.name}' (type ${pool.type}, ${limit}${pool.is_paused ? ", paused" : ""}): ${pool.id}\n`);
    });

  workPool
    .command("ls")
    .description("List work pools by name")
    .option("--json", "print the API objects as JSON")
    .action(async (options: { json?: boolean }) => {
      const client = ctx.client();
      const pools = await readPages<WorkPool>(undefined, (offset, limit) => client.request("POST", "/work_pools/filter", { offset, limit }));
      if (options.json) return writeJson(ctx.stdout, pools);
      if (pools.length === 0) return void ctx.stdout.write("No work pools found.\n");
      ctx.stdout.write(
        formatTable(
          ["NAME", "TYPE", "STATUS", "SLOTS", "ID"],
          pools.map((p) => [p.name, p.type, poolStatus(p), slots(p.concurrency_limit, p.active_slots), p.id]),
        ),
      );
    });

  workPool
    .command("inspect")
    .description("Show a work pool with its queues and workers")
    .addArgument(poolName())
    .option("--json", 'print {"work_pool", "queues", "workers"} as JSON')
    .action(async (name: string, options: { json?: boolean }) => {
      const client = ctx.client();
      const pool = await orNotFound(client.request<WorkPool>("GET", path(name)), "Work pool", name);
      const [queues, workers] = await Promise.all([
        readPages<WorkQueue>(undefined, (offset, limit) => client.request("POST", `${path(name)}/queues/filter`, { offset, limit })),
        readPages<Worker>(undefined, (offset, limit) => client.request("POST", `${path(name)}/workers/filter`, { offset, limit })),
      ]);
      if (options.json) return writeJson(ctx.stdout, { work_pool: pool, queues, workers });
      ctx.stdout.write(
        formatDetails([
          ["Name", pool.name],
          ["ID", pool.id],
          ["Type", pool.type],
          ["Status", poolStatus(pool)],
          ["Concurrency limit", pool.concurrency_limit === null ? NONE : String(pool.concurrency_limit)],
          ["Slots in use", pool.concurrency_limit === null ? NONE : String(pool.active_slots ?? 0)],
          ["Description", pool.description ?? NONE],
          ["Created", formatTimestamp(pool.created)],
        ]),
      );
      ctx.stdout.write(`\nQueues (${queues.length}):\n`);
      ctx.stdout.write(indent(queueTable(queues, pool.default_queue_id)));
      ctx.stdout.write(`\nWorkers (${workers.length}):\n`);
      ctx.stdout.write(
        workers.length === 0
          ? "  none\n"
          : indent(formatTable(["NAME", "STATUS", "LAST HEARTBEAT"], workers.map((w) => [w.name, w.status, formatTimestamp(w.last_heartbeat_time)]))),
      );
    });

  const update = (command: string, description: string, body: Record<string, unknown>, done: string) =>
    workPool
      .command(command)
      .description(description)
      .addArgument(poolName())
      .action(async (name: string) => {
        await orNotFound(ctx.client().request("PATCH", path(name), body), "Work pool", name);
        ctx.stdout.write(`${done} work pool '${name}'.\n`);
      });
  update("pause", "Pause a work pool: workers get no new runs from it", { is_paused: true }, "Paused");
  update("resume", "Resume a paused work pool", { is_paused: false }, "Resumed");
  update("clear-concurrency-limit", "Remove a work pool's concurrency limit", { concurrency_limit: null }, "Cleared the concurrency limit of");

  workPool
    .command("set-concurrency-limit")
    .description("Limit how many runs of a work pool may be pending or running at once")
    .addArgument(poolName())
    .addArgument(new Argument("<limit>", "most runs at once (0 stops new runs)").argParser(parseConcurrencyLimit))
    .action(async (name: string, limit: number) => {
      await orNotFound(ctx.client().request("PATCH", path(name), { concurrency_limit: limit }), "Work pool", name);
      ctx.stdout.write(`Set the concurrency limit of work pool '${name}' to ${limit}.\n`);
    });

  workPool
    .command("delete")
    .description("Delete a work pool with its queues and workers (its flow runs stay)")
    .addArgument(poolName())
    .action(async (name: string) => {
      await orNotFound(ctx.client().request("DELETE", path(name)), "Work pool", name);
      ctx.stdout.write(`Deleted work pool '${name}'.\n`);
    });
}

/** `baton work-queue ...`: the queues of a work pool. */
export function configureWorkQueueCommand(program: Command, ctx: CliContext): void {
  const workQueue = program.command("work-queue").description("Create and list the queues of work pools");

  workQueue
    .command("create")
    .description("Create a queue in a work pool")
    .addArgument(new Argument("<name>", "queue name").argParser(parseName))
    .requiredOption("--pool <pool>", "the work pool it belongs to", parseName)
    .option("--priority <n>", "1 is served first; others move down as needed (default: the first free)", parseLimit)
    .option("--concurrency-limit <n>", "most runs from this queue at once", parseConcurrencyLimit)
    .option("--json", "print the API object as JSON")
    .action(async (name: string, options: { pool: string; priority?: number; concurrencyLimit?: number; json?: boolean }) => {
      const queue = await orConflict(
        orNotFound(
          ctx.client().request<WorkQueue>("POST", `${path(options.pool)}/queues`, {
            name,
            priority: options.priority ?? null,
            concurrency_limit: options.concurrencyLimit ?? null,
          }),
          "Work pool",
          options.pool,
        ),
      );
      if (options.json) return writeJson(ctx.stdout, queue);
      ctx.stdout.write(`Created work queue '${queue.name}' in work pool '${options.pool}' (priority ${queue.priority}): ${queue.id}\n`);
    });

  workQueue
    .command("ls")
    .description("List the queues of a work pool by priority (of every pool, by name, without --pool)")
    .option("--pool <pool>", "only this work pool's queues", parseName)
    .option("--json", "print the API objects as JSON")
    .action(async (options: { pool?: string; json?: boolean }) => {
      const client = ctx.client();
      const queues = await listQueues(client, options.pool);
      if (options.json) return writeJson(ctx.stdout, queues);
      if (queues.length === 0) return void ctx.stdout.write("No work queues found.\n");
      if (options.pool !== undefined) {
        const pool = await client.request<WorkPool>("GET", path(options.pool));
        return void ctx.stdout.write(queueTable(queues, pool.default_queue_id));
      }
      ctx.stdout.write(
        formatTable(
          ["POOL", "NAME", "PRIORITY", "STATUS", "SLOTS", "ID"],
          queues.map((q) => [q.work_pool_name ?? NONE, q.name, String(q.priority), queueStatus(q), slots(q.concurrency_limit, q.active_slots), q.id]),
          [2],
        ),
      );
    });
}

function listQueues(client: BatonClient, pool: string | undefined): Promise<WorkQueue[]> {
  if (pool === undefined) return readPages(undefined, (offset, limit) => client.request("POST", "/work_queues/filter", { offset, limit }));
  return orNotFound(
    readPages<WorkQueue>(undefined, (offset, limit) => client.request("POST", `${path(pool)}/queues/filter`, { offset, limit })),
    "Work pool",
    pool,
  );
}

function queueStatus(queue: WorkQueue): string {
  return queue.is_paused ? "PAUSED" : (queue.status ?? NONE);
}

function queueTable(queues: readonly WorkQueue[], defaultQueueId: string | null): string {
  if (queues.length === 0) return "none\n";
  return formatTable(
    ["NAME", "PRIORITY", "STATUS", "SLOTS", "ID"],
    queues.map((q) => [q.id === defaultQueueId ? `${q.name} (default)` : q.name, String(q.priority), queueStatus(q), slots(q.concurrency_limit, q.active_slots), q.id]),
    [1],
  );
}

function indent(text: string): string {
  return text.replace(/^(?=.)/gm, "  ");
}
