/**
 * Automation benchmark: how long from an event to the action an automation takes for it, on
 * SQLite and PostgreSQL, with the server in its own process (all other services off).
 *
 *   npm run bench:automations                               # both databases, 500 events at 50/s each part
 *   npm run bench:automations -- --db postgres --events 1000 --rate 100
 *
 * Two automations, one part each:
 *   run-deployment  a Reactive trigger on `bench.tick` whose action creates a flow run of a
 *                   deployment with the event's id rendered into its parameters
 *                   (`{{ event.id }}`): latency = the flow run's `created` - the event's `occurred`.
 *   do-nothing      a Reactive trigger on `bench.ping` with a do-nothing action: latency = the
 *                   `prefect.automation.action.executed` event's `occurred` - the event's `occurred`
 *                   (the trigger engine and the action pipeline alone).
 *   baseline        the same flow runs created by the client itself (POST create_flow_run at the
 *                   same rate): the latency of the request alone, i.e. what the action's own API
 *                   call costs; run-deployment minus this is the automation's overhead.
 * The client stamps `occurred` just before it sends each event (one POST /events each, paced at
 * --rate), so the figures include the request, the event stream, the trigger evaluation (the
 * bucket statements) and the action. Target: p99 < 100 ms.
 */
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { DEFAULT_POSTGRES_URL, prepareDatabase } from "./lib/bench-database.js";
import { parseCommandLine, positiveInt, UsageError, type DatabaseKind } from "./lib/args.js";
import { latency, type Latency } from "./lib/report.js";
import { startServerChild } from "./lib/server-process.js";

const USAGE = `Usage: npm run bench:automations -- [options]
  --db sqlite|postgres|both   database (default both)
  --events N                  events per part (default 500)
  --rate N                    events per second (default 50)
  --pg-url URL                PostgreSQL server (default ${DEFAULT_POSTGRES_URL})
`;

const TARGET_P99_MS = 100;
const OTHER_SERVICES = ["scheduler", "late_runs", "zombies", "foreman", "cancellation_cleanup", "pause_expirations", "concurrency_lease_expirations", "retention"];

interface Options {
  databases: DatabaseKind[];
  events: number;
  rate: number;
  pgUrl: string;
}

function parse(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: { db: { type: "string", default: "both" }, events: { type: "string", default: "500" }, rate: { type: "string", default: "50" }, "pg-url": { type: "string", default: DEFAULT_POSTGRES_URL }, help: { type: "boolean" } },
    strict: true,
  });
  if (values.help) throw new UsageError("");
  const db = values.db;
  if (db !== "sqlite" && db !== "postgres" && db !== "both") throw new UsageError(`--db must be sqlite, postgres or both, not ${db}`);
  return {
    databases: db === "both" ? ["sqlite", "postgres"] : [db],
    events: positiveInt("--events", values.events),
    rate: positiveInt("--rate", values.rate),
    pgUrl: values["pg-url"],
  };
}

interface Part {
  database: DatabaseKind;
  action: string;
  latency: Latency;
  lost: number;
}

async function api<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${base}/api${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  if (response.status >= 300) throw new Error(`${method} ${path}: HTTP ${response.status} ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

/** Sends `count` events named `name`, one request each, paced at `rate` per second; returns id -> occurred (ms). */
async function sendEvents(base: string, name: string, count: number, rate: number): Promise<Map<string, number>> {
  const sent = new Map<string, number>();
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < count; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 0) await sleep(wait);
    const id = crypto.randomUUID();
    const occurred = Date.now();
    sent.set(id, occurred);
    const request = api<void>(base, "POST", "/events", [{ id, occurred: new Date(occurred).toISOString(), event: name, resource: { "prefect.resource.id": `bench.source.${i % 10}` } }]).then(() => undefined);
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }
  await Promise.all(inFlight);
  return sent;
}

/** The client creating the runs itself, paced the same: each request's latency (ms). */
async function createRunsDirectly(base: string, deploymentId: string, count: number, rate: number): Promise<number[]> {
  const samples: number[] = [];
  const start = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < count; i++) {
    const wait = start + (i * 1000) / rate - performance.now();
    if (wait > 0) await sleep(wait);
    const sent = performance.now();
    const request = api<void>(base, "POST", `/deployments/${deploymentId}/create_flow_run`, { parameters: { event_id: "direct" } }).then(() => {
      samples.push(performance.now() - sent);
    });
    inFlight.add(request);
    void request.finally(() => inFlight.delete(request));
  }
  await Promise.all(inFlight);
  return samples;
}

async function allRuns(base: string, deploymentId: string): Promise<Array<{ created: string; parameters: { event_id?: string } }>> {
  const runs: Array<{ created: string; parameters: { event_id?: string } }> = [];
  for (let offset = 0; ; offset += 200) {
    const page = await api<typeof runs>(base, "POST", "/flow_runs/filter", { flow_runs: { deployment_id: { any_: [deploymentId] } }, limit: 200, offset });
    runs.push(...page);
    if (page.length < 200) return runs;
  }
}

interface StoredEvent {
  occurred: string;
  related: Array<Record<string, string>>;
}

async function allEvents(base: string, name: string, resourceId: string): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let page = await api<{ events: StoredEvent[]; next_page: string | null }>(base, "POST", "/events/filter", { filter: { event: { name: [name] }, resource: { id: [resourceId] } }, limit: 50 });
  events.push(...page.events);
  while (page.next_page) {
    const response = await fetch(page.next_page);
    page = (await response.json()) as typeof page;
    events.push(...page.events);
  }
  return events;
}

async function countEvents(base: string, name: string, resourceId: string): Promise<number> {
  return (await api<{ total: number }>(base, "POST", "/events/filter", { filter: { event: { name: [name] }, resource: { id: [resourceId] } }, limit: 0 })).total;
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      process.stderr.write(`gave up waiting for ${what}\n`);
      return;
    }
    await sleep(100);
  }
}

async function benchDatabase(database: DatabaseKind, options: Options): Promise<Part[]> {
  const db = prepareDatabase(database, options.pgUrl);
  const off = Object.fromEntries(OTHER_SERVICES.map((name) => [`BATON_SERVER_SERVICES_${name.toUpperCase()}_ENABLED`, "false"]));
  const server = await startServerChild({ launcher: "serve", env: { ...db.env, ...off }, nodeArgs: [] });
  try {
    const base = server.url;
    const flow = await api<{ id: string }>(base, "POST", "/flows/", { name: "bench-automations" });
    const deployment = await api<{ id: string }>(base, "POST", "/deployments/", { flow_id: flow.id, name: "target" });
    await api(base, "POST", "/automations/", {
      name: "bench run-deployment",
      trigger: { posture: "Reactive", expect: ["bench.tick"], match: { "prefect.resource.id": "bench.source.*" } },
      actions: [{ type: "run-deployment", deployment_id: deployment.id, parameters: { event_id: "{{ event.id }}" } }],
    });
    const nothing = await api<{ id: string }>(base, "POST", "/automations/", {
      name: "bench do-nothing",
      trigger: { posture: "Reactive", expect: ["bench.ping"], match: { "prefect.resource.id": "bench.source.*" } },
      actions: [{ type: "do-nothing" }],
    });
    // Warm up both paths (JIT, connection pools, prepared statements, the compiled template)
    // before measuring; the warm-up's runs and actions are not counted (their event ids are not).
    const warmup = await sendEvents(base, "bench.tick", 50, options.rate);
    await sendEvents(base, "bench.ping", 50, options.rate);
    await waitFor("the warm-up runs", async () => (await allRuns(base, deployment.id)).length >= warmup.size);
    await sleep(1000);

    const ticks = await sendEvents(base, "bench.tick", options.events, options.rate);
    await waitFor("the flow runs", async () => (await allRuns(base, deployment.id)).length >= warmup.size + ticks.size);
    const runs = await allRuns(base, deployment.id);
    const runLatency: number[] = [];
    for (const run of runs) {
      const sentAt = run.parameters.event_id ? ticks.get(run.parameters.event_id) : undefined;
      if (sentAt !== undefined) runLatency.push(new Date(run.created).getTime() - sentAt);
    }

    const pings = await sendEvents(base, "bench.ping", options.events, options.rate);
    const resource = `prefect.automation.${nothing.id}`;
    await waitFor("the action events", async () => (await countEvents(base, "prefect.automation.action.executed", resource)) >= 50 + pings.size);
    const executed = await allEvents(base, "prefect.automation.action.executed", resource);
    const nothingLatency: number[] = [];
    for (const event of executed) {
      const trigger = event.related.find((r) => r["prefect.resource.role"] === "triggering-event")?.["prefect.resource.id"]?.replace("prefect.event.", "");
      const sentAt = trigger ? pings.get(trigger) : undefined;
      if (sentAt !== undefined) nothingLatency.push(new Date(event.occurred).getTime() - sentAt);
    }
    const baseline = await createRunsDirectly(base, deployment.id, options.events, options.rate);
    return [
      { database, action: "run-deployment", latency: latency(runLatency), lost: ticks.size - runLatency.length },
      { database, action: "baseline: create_flow_run request", latency: latency(baseline), lost: 0 },
      { database, action: "do-nothing", latency: latency(nothingLatency), lost: pings.size - nothingLatency.length },
    ];
  } finally {
    await server.stop();
    await db.release();
  }
}

async function main(): Promise<void> {
  const options = parseCommandLine(parse, USAGE);
  if (!options) {
    process.exitCode = 2;
    return;
  }
  process.stdout.write(`Automation trigger latency: event -> action, ${options.events} events per part at ${options.rate}/s, one POST /events each\n\n`);
  const parts: Part[] = [];
  for (const database of options.databases) parts.push(...(await benchDatabase(database, options)));
  const ms = (n: number) => `${n.toFixed(0)} ms`;
  const header = ["database", "action", "events", "p50", "p95", "p99", "max", "missing", `p99 < ${TARGET_P99_MS} ms`];
  const rows = parts.map((p) => [p.database, p.action, String(p.latency.count), ms(p.latency.p50), ms(p.latency.p95), ms(p.latency.p99), ms(p.latency.max), String(p.lost), p.action.startsWith("baseline") ? "" : p.latency.p99 < TARGET_P99_MS && p.lost === 0 ? "met" : "NOT met"]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  for (const row of [header, ...rows]) process.stdout.write(`${row.map((cell, i) => cell.padEnd(widths[i]!)).join("  ").trimEnd()}\n`);
}

await main();
