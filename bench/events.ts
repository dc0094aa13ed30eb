/**
 * Events and logs: how many events per second the server takes over the `events/in` websocket
 * and persists (SQLite, PostgreSQL, and with Redis Streams between them), and how much a
 * stream of logs slows `set_state`.
 *
 *   npm run bench:events                                  # every part
 *   npm run bench:events -- --part ingest --db sqlite --messaging redis --events 400000
 *   npm run bench:events -- --part logs --db postgres --seconds 20
 *
 * ingest: `--connections` websockets each send their share of `--events` events, `--batch`
 * per message (1 is one event per message, as Prefect's client sends them), as fast as the
 * server reads them. "ingested" is the rate at which the server read them (all sent and the
 * socket buffers drained); "persisted" the rate until the last one is in the database, both
 * from the first message.
 *
 * logs: `--clients` loops drive flow runs PENDING -> RUNNING -> COMPLETED through
 * `set_state` for `--seconds`, once alone and once while another connection writes
 * `--log-rate` log lines per second (in requests of `--log-batch` lines); it prints both
 * throughputs and the difference.
 */
import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { performance } from "node:perf_hooks";
import WebSocket from "ws";
import { Redis } from "ioredis";
import { DEFAULT_POSTGRES_URL, prepareDatabase } from "./lib/bench-database.js";
import { parseCommandLine, parseDatabases, positiveInt, UsageError, type DatabaseKind } from "./lib/args.js";
import { startServerChild, type ServerChild } from "./lib/server-process.js";
import { createClient, ok, type JsonClient } from "./lib/http-client.js";

const REDIS_URL = process.env.BATON_BENCH_REDIS_URL ?? "redis://127.0.0.1:6379";

const USAGE = `Usage: npm run bench:events -- [options]
  --part ingest|logs|both          what to measure (default both)
  --db sqlite|postgres|both        databases (default both)
  --messaging memory|redis|both    the server's message bus for ingest (default both)
  --events N                       events to send (default 200000)
  --connections N                  events/in websockets (default 4)
  --batch N                        events per websocket message (default 100)
  --clients N                      set_state loops for the logs part (default 8)
  --seconds S                      length of each logs measurement (default 15)
  --log-rate N                     log lines per second while measuring (default 1000)
  --log-batch N                    lines per POST /logs/ (default 50)
  --pg-url URL                     PostgreSQL server (default ${DEFAULT_POSTGRES_URL})
`;

interface Options {
  parts: Array<"ingest" | "logs">;
  databases: DatabaseKind[];
  messaging: Array<"memory" | "redis">;
  events: number;
  connections: number;
  batch: number;
  clients: number;
  seconds: number;
  logRate: number;
  logBatch: number;
  pgUrl: string;
}

function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      part: { type: "string", default: "both" },
      db: { type: "string", default: "both" },
      messaging: { type: "string", default: "both" },
      events: { type: "string", default: "200000" },
      connections: { type: "string", default: "4" },
      batch: { type: "string", default: "100" },
      clients: { type: "string", default: "8" },
      seconds: { type: "string", default: "15" },
      "log-rate": { type: "string", default: "1000" },
      "log-batch": { type: "string", default: "50" },
      "pg-url": { type: "string", default: process.env.BATON_BENCH_POSTGRES_URL ?? DEFAULT_POSTGRES_URL },
    },
  });
  const part = values.part!;
  if (!["ingest", "logs", "both"].includes(part)) throw new UsageError(`--part must be ingest, logs or both, not '${part}'`);
  const messaging = values.messaging!;
  if (!["memory", "redis", "both"].includes(messaging)) throw new UsageError(`--messaging must be memory, redis or both, not '${messaging}'`);
  return {
    parts: part === "both" ? ["ingest", "logs"] : [part as "ingest" | "logs"],
    databases: parseDatabases(values.db!),
    messaging: messaging === "both" ? ["memory", "redis"] : [messaging as "memory" | "redis"],
    events: positiveInt("--events", values.events!),
    connections: positiveInt("--connections", values.connections!),
    batch: positiveInt("--batch", values.batch!),
    clients: positiveInt("--clients", values.clients!),
    seconds: positiveInt("--seconds", values.seconds!),
    logRate: positiveInt("--log-rate", values["log-rate"]!),
    logBatch: positiveInt("--log-batch", values["log-batch"]!),
    pgUrl: values["pg-url"]!,
  };
}

/** A server in its own process on a fresh database, with the bus asked for. */
async function withServer<T>(database: DatabaseKind, messaging: "memory" | "redis", options: Options, run: (server: ServerChild) => Promise<T>): Promise<T> {
  const db = prepareDatabase(database, options.pgUrl);
  const prefix = `baton-bench:${randomUUID().slice(0, 8)}:`;
  const env: Record<string, string> = { ...db.env, BATON_MESSAGING: messaging, BATON_MESSAGING_REDIS_URL: REDIS_URL, BATON_MESSAGING_REDIS_PREFIX: prefix, BATON_LOG_LEVEL: "silent" };
  // BATON_BENCH_SERVER_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" profiles the server.
  const nodeArgs = (process.env.BATON_BENCH_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
  const server = await startServerChild({ launcher: "serve", env, nodeArgs });
  try {
    return await run(server);
  } finally {
    await server.stop();
    await db.release();
    if (messaging === "redis") {
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}*`);
      if (keys.length > 0) await redis.del(...keys);
      await redis.quit();
    }
  }
}

async function countStored(client: JsonClient, name: string): Promise<number> {
  const counts = (await ok(client.post("/events/count-by/event", { filter: { event: { name: [name] }, occurred: { since: new Date(Date.now() - 3600_000).toISOString() } } }))) as Array<{ count: number }>;
  return counts[0]?.count ?? 0;
}

async function ingest(server: ServerChild, options: Options): Promise<{ ingested: number; persisted: number; seconds: number }> {
  const apiUrl = `${server.url}/api`;
  const client = createClient(apiUrl, 2, "node");
  const name = `bench.events.${randomUUID().slice(0, 8)}`;
  const per = Math.ceil(options.events / options.connections);
  const sockets = await Promise.all(
    Array.from({ length: options.connections }, async () => {
      const socket = new WebSocket(`${apiUrl.replace(/^http/, "ws")}/events/in`);
      await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
      socket.on("message", (data) => process.stderr.write(`[events/in] ${String(data).slice(0, 200)}\n`));
      return socket;
    }),
  );
  const occurred = new Date().toISOString();
  const lastIds: string[] = [];
  const started = performance.now();
  await Promise.all(
    sockets.map(async (socket, index) => {
      const count = Math.min(per, options.events - index * per);
      for (let sent = 0; sent < count; sent += options.batch) {
        const n = Math.min(options.batch, count - sent);
        const events = Array.from({ length: n }, (_, i) => ({
          id: randomUUID(),
          occurred,
          event: name,
          resource: { "prefect.resource.id": `bench.resource.${index}.${(sent + i) % 100}` },
          payload: { n: sent + i },
        }));
        socket.send(JSON.stringify(options.batch === 1 ? events[0] : events));
        lastIds[index] = events[events.length - 1]!.id;
        // Keep at most ~4 MB unread: the server's read rate is what is measured.
        while (socket.bufferedAmount > 4 * 1024 * 1024) await new Promise((resolve) => setTimeout(resolve, 2));
      }
      while (socket.bufferedAmount > 0) await new Promise((resolve) => setTimeout(resolve, 2));
    }),
  );
  const sentAt = performance.now();
  // Each connection's events are persisted in the order sent, so once the last one of each is
  // stored, all are: poll for those (by id, cheap), then count them all once to be sure.
  const lastStored = async () => ((await ok(client.post("/events/filter", { filter: { id: { id: lastIds } }, limit: 50 }))) as { total: number }).total;
  while ((await lastStored()) < lastIds.length) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    if (performance.now() - started > 600_000) throw new Error("events not persisted after 10 minutes");
  }
  const lastAt = performance.now();
  let stored = await countStored(client, name);
  while (stored < options.events) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    stored = await countStored(client, name);
    if (process.env.BATON_BENCH_DEBUG) process.stderr.write(`stored ${stored} after ${((performance.now() - started) / 1000).toFixed(1)} s (sent at ${((sentAt - started) / 1000).toFixed(1)} s)\n`);
    if (performance.now() - started > 600_000) throw new Error(`only ${stored} of ${options.events} events persisted after 10 minutes`);
  }
  // Normally the last events were the last stored; if not, the time of the full count.
  const persistedAt = stored === options.events && performance.now() - lastAt < 1000 ? lastAt : performance.now();
  for (const socket of sockets) socket.close();
  client.close();
  return { ingested: options.events / ((sentAt - started) / 1000), persisted: options.events / ((persistedAt - started) / 1000), seconds: (persistedAt - started) / 1000 };
}

/** set_state transitions per second from `clients` loops for `seconds`, with `logRate` lines/s of logs meanwhile (0: none). */
async function setStateThroughput(apiUrl: string, options: Options, flowId: string, logRate: number): Promise<{ transitions: number; logLines: number }> {
  const client = createClient(apiUrl, options.clients, "node");
  const logClient = createClient(apiUrl, 4, "node");
  const deadline = performance.now() + options.seconds * 1000;
  let transitions = 0;
  let logLines = 0;
  const logRun = (await ok(client.post("/flow_runs/", { flow_id: flowId, state: { type: "RUNNING" } }))) as { id: string };
  const logger = (async () => {
    if (logRate === 0) return;
    const interval = (1000 * options.logBatch) / logRate;
    let next = performance.now();
    while (performance.now() < deadline) {
      const lines = Array.from({ length: options.logBatch }, (_, i) => ({ name: "bench", level: 20, message: `log line ${logLines + i} ${"x".repeat(60)}`, timestamp: new Date().toISOString(), flow_run_id: logRun.id }));
      void ok(logClient.post("/logs/", lines)).then(() => (logLines += lines.length));
      next += interval;
      const wait = next - performance.now();
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();
  await Promise.all(
    Array.from({ length: options.clients }, async () => {
      while (performance.now() < deadline) {
        const run = (await ok(client.post("/flow_runs/", { flow_id: flowId, state: { type: "PENDING" } }))) as { id: string };
        for (const type of ["RUNNING", "COMPLETED"]) {
          const result = (await ok(client.post(`/flow_runs/${run.id}/set_state`, { state: { type } }))) as { status: string };
          if (result.status !== "ACCEPT") throw new Error(`${type} was ${result.status}`);
          transitions++;
        }
      }
    }),
  );
  await logger;
  client.close();
  logClient.close();
  return { transitions: transitions / options.seconds, logLines: logLines / options.seconds };
}

async function main(): Promise<void> {
  const options = parseCommandLine(parseOptions, USAGE);
  if (!options) process.exit(2);
  console.log(`bench:events on ${(await import("node:os")).cpus().length} cores`);
  if (options.parts.includes("ingest")) {
    console.log(`\ningest: ${options.events} events over ${options.connections} events/in websockets, ${options.batch} per message`);
    for (const database of options.databases) {
      for (const messaging of options.messaging) {
        const r = await withServer(database, messaging, options, (server) => ingest(server, options));
        console.log(`  ${database.padEnd(8)} ${messaging.padEnd(6)}  ingested ${Math.round(r.ingested).toLocaleString("en-US").padStart(7)} events/s   persisted ${Math.round(r.persisted).toLocaleString("en-US").padStart(7)} events/s   (${r.seconds.toFixed(1)} s)`);
      }
    }
  }
  if (options.parts.includes("logs")) {
    console.log(`\nset_state with logs: ${options.clients} clients, ${options.seconds} s each, ${options.logRate} log lines/s in batches of ${options.logBatch}`);
    for (const database of options.databases) {
      await withServer(database, "memory", options, async (server) => {
        const apiUrl = `${server.url}/api`;
        const setup = createClient(apiUrl, 1, "node");
        const flow = (await ok(setup.post("/flows/", { name: "bench-events" }))) as { id: string };
        setup.close();
        // A short warm-up, then alone, with logs, and alone again (the machine is shared: the mean of the two baselines).
        await setStateThroughput(apiUrl, { ...options, seconds: 3 }, flow.id, 0);
        const before = await setStateThroughput(apiUrl, options, flow.id, 0);
        const loaded = await setStateThroughput(apiUrl, options, flow.id, options.logRate);
        const after = await setStateThroughput(apiUrl, options, flow.id, 0);
        const alone = (before.transitions + after.transitions) / 2;
        const change = ((loaded.transitions - alone) / alone) * 100;
        console.log(
          `  ${database.padEnd(8)}  alone ${alone.toFixed(0).padStart(5)} transitions/s (${before.transitions.toFixed(0)}, ${after.transitions.toFixed(0)})   with ${loaded.logLines.toFixed(0)} log lines/s ${loaded.transitions.toFixed(0).padStart(5)} transitions/s   change ${change >= 0 ? "+" : ""}${change.toFixed(1)}%`,
        );
      });
    }
  }
}

await main();
