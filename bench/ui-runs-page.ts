/**
 * Time to first render of the web UI's runs page with 10,000 flow runs, and the UI's bundle
 * size. A server (bench/serve.mjs, its own process) gets a fresh database with `--runs` flow
 * runs of several flows in a mix of states; then headless Chromium (the browser the UI tests
 * use) opens `/runs` `--repeat` times, each in a fresh profile (cold: nothing cached), and
 * `--repeat` more times reloading in one profile (warm: assets cached). "First render" is
 * when the first page of runs is on screen (the first `[data-run-id]` row), measured in the
 * page from navigation start. Prints the bundle as built (raw and gzip) and what the runs
 * page loads.
 *
 *   npm run bench:ui-runs-page -- [--runs 10000] [--repeat 5] [--db sqlite|postgres]
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { gzipSync } from "node:zlib";
import type { CDPSession, Page } from "playwright-core";
import { openBrowser } from "../packages/ui/test/browser.js";
import { DEFAULT_POSTGRES_URL, prepareDatabase } from "./lib/bench-database.js";
import { nodeStartCpuMs } from "./lib/machine-speed.js";
import { startServerChild } from "./lib/server-process.js";

const { values } = parseArgs({
  options: {
    runs: { type: "string", default: "10000" },
    repeat: { type: "string", default: "5" },
    db: { type: "string", default: "sqlite" },
    "postgres-url": { type: "string", default: DEFAULT_POSTGRES_URL },
  },
});
const RUNS = Number(values.runs);
const REPEAT = Number(values.repeat);
const DB = values.db === "postgres" ? "postgres" : "sqlite";
const TARGET_MS = 1000;
const UI_DIST = join(dirname(dirname(fileURLToPath(import.meta.url))), "packages/ui/dist");

const STATES = ["COMPLETED", "COMPLETED", "COMPLETED", "COMPLETED", "FAILED", "RUNNING", "SCHEDULED", "CANCELLED", "CRASHED", "PENDING"] as const;

async function call<T>(api: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${api}${path}`, { method, headers: body === undefined ? {} : { "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  return (await response.json()) as T;
}

async function seed(api: string): Promise<void> {
  const flows = await Promise.all(["etl", "report", "sync", "backfill", "cleanup"].map((name) => call<{ id: string }>(api, "POST", "/flows/", { name })));
  const started = Date.now();
  let next = 0;
  // 16 requests in flight; runs spread over the past week so the time filters and history have work.
  await Promise.all(
    Array.from({ length: 16 }, async () => {
      for (let i = next++; i < RUNS; i = next++) {
        const type = STATES[i % STATES.length]!;
        const when = new Date(Date.now() - (i / RUNS) * 7 * 86400_000).toISOString();
        await call(api, "POST", "/flow_runs/", {
          flow_id: flows[i % flows.length]!.id,
          name: `run-${i}`,
          tags: i % 3 === 0 ? ["nightly"] : [],
          state: { type, timestamp: when, ...(type === "SCHEDULED" ? { state_details: { scheduled_time: when } } : {}) },
        });
      }
    }),
  );
  console.log(`seeded ${RUNS.toLocaleString()} flow runs in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

interface Timing {
  /** Navigation start to the first run row on screen. */
  firstRows: number;
  /** When each step of the waterfall ended: the HTML, the entry script, /ui-settings, the runs request. */
  steps: Record<string, number>;
  /** Main-thread time of the renderer over the load (until the rows were found), whatever else the machine does. */
  taskMs: number;
  /** Of which running JavaScript (compiling and executing the bundle, React rendering). */
  scriptMs: number;
}

/** Seconds of main-thread work (tasks, script) so far, from Chromium's own counters (DevTools protocol). */
async function mainThread(cdp: CDPSession): Promise<{ task: number; script: number }> {
  const { metrics } = (await cdp.send("Performance.getMetrics")) as { metrics: Array<{ name: string; value: number }> };
  const get = (name: string) => metrics.find((m) => m.name === name)?.value ?? NaN;
  return { task: get("TaskDuration"), script: get("ScriptDuration") };
}

/** Milliseconds from navigation start until the first run row exists, measured in the page, with the steps before it. */
async function firstRender(page: Page, url: string, cdp: CDPSession): Promise<Timing> {
  await page.goto(url, { waitUntil: "commit" });
  await page.locator("[data-run-id]").first().waitFor({ timeout: 30_000 });
  // The counters start again with each document, so they cover this load alone.
  const after = await mainThread(cdp);
  const cpu = { taskMs: after.task * 1000, scriptMs: after.script * 1000 };
  return { ...(await pageTiming(page)), ...cpu };
}

async function pageTiming(page: Page): Promise<Omit<Timing, "taskMs" | "scriptMs">> {
  // Runs in the page, where `window` and `performance` are the browser's.
  return page.evaluate(`(() => {
    const resources = performance.getEntriesByType("resource");
    const end = (part) => resources.find((r) => r.name.includes(part))?.responseEnd ?? NaN;
    const nav = performance.getEntriesByType("navigation")[0];
    const mark = (name) => performance.getEntriesByName(name, "mark")[0]?.startTime ?? NaN;
    return {
      firstRows: window.__batonFirstRows ?? performance.now(),
      steps: { html: nav ? nav.responseEnd : NaN, entry: end("/assets/index-"), main: mark("baton:main"), "ui-settings": end("/ui-settings"), render: mark("baton:render"), page: mark("baton:runs-page"), "paginate-sent": resources.find((r) => r.name.includes("/flow_runs/paginate"))?.startTime ?? NaN, paginate: end("/flow_runs/paginate") },
    };
  })()`);
}

// Installed before any script of the page: notes the moment the first run row is added.
const OBSERVER = `
  new MutationObserver((_m, observer) => {
    if (document.querySelector("[data-run-id]")) { window.__batonFirstRows = performance.now(); observer.disconnect(); }
  }).observe(document, { childList: true, subtree: true });
`;

function median(xs: number[]): number {
  const sorted = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function bundleReport(loaded: string[]): void {
  const files = readdirSync(join(UI_DIST, "assets")).map((name) => {
    const bytes = readFileSync(join(UI_DIST, "assets", name));
    return { name, raw: statSync(join(UI_DIST, "assets", name)).size, gzip: gzipSync(bytes, { level: 9 }).length };
  });
  const sum = (list: typeof files, key: "raw" | "gzip") => list.reduce((s, f) => s + f[key], 0);
  const kb = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
  const js = files.filter((f) => f.name.endsWith(".js"));
  const css = files.filter((f) => f.name.endsWith(".css"));
  const entry = files.filter((f) => f.name.startsWith("index-"));
  const runsPage = files.filter((f) => loaded.some((url) => url.endsWith(`/assets/${f.name}`)));
  console.log(`bundle: ${files.length} files, JS ${kb(sum(js, "raw"))} (${kb(sum(js, "gzip"))} gzip), CSS ${kb(sum(css, "raw"))} (${kb(sum(css, "gzip"))} gzip)`);
  console.log(`  entry (React, TanStack Query, router, shell): ${kb(sum(entry, "raw"))} (${kb(sum(entry, "gzip"))} gzip)`);
  console.log(`  loaded by /runs: ${runsPage.length} files, ${kb(sum(runsPage, "raw"))} (${kb(sum(runsPage, "gzip"))} gzip)`);
  const biggest = [...js].sort((a, b) => b.raw - a.raw).slice(0, 3);
  console.log(`  largest chunks: ${biggest.map((f) => `${f.name} ${kb(f.gzip)} gzip`).join(", ")}`);
}

async function main(): Promise<void> {
  console.log(`machine: node -e 0 costs ${nodeStartCpuMs() ?? "?"} ms of CPU; load average ${loadavg().map((n) => n.toFixed(1)).join(" ")} on ${cpus().length} cores`);
  const database = prepareDatabase(DB, values["postgres-url"]!);
  const server = await startServerChild({ launcher: "serve", env: { ...database.env, BATON_LOG_LEVEL: "silent" }, nodeArgs: [] });
  try {
    const api = `${server.url}/api`;
    await seed(api);
    const url = `${server.url}/runs`;
    const cold: Timing[] = [];
    let loaded: string[] = [];
    for (let i = 0; i < REPEAT; i++) {
      const browser = await openBrowser();
      await browser.context.addInitScript(OBSERVER);
      const requests: string[] = [];
      browser.page.on("request", (r) => requests.push(r.url()));
      const cdp = await browser.context.newCDPSession(browser.page);
      await cdp.send("Performance.enable");
      cold.push(await firstRender(browser.page, url, cdp));
      loaded = requests;
      if (browser.failures.length) throw new Error(`failed requests: ${browser.failures.join(", ")}`);
      await browser.close();
    }
    const warm: Timing[] = [];
    const browser = await openBrowser();
    await browser.context.addInitScript(OBSERVER);
    const cdp = await browser.context.newCDPSession(browser.page);
    await cdp.send("Performance.enable");
    await firstRender(browser.page, url, cdp);
    for (let i = 0; i < REPEAT; i++) warm.push(await firstRender(browser.page, url, cdp));
    const count = await browser.page.locator("[data-run-id]").count();
    await browser.close();

    const paginate = [];
    for (let i = 0; i < REPEAT; i++) {
      const t = performance.now();
      await call(api, "POST", "/flow_runs/paginate", { flow_runs: {}, sort: "EXPECTED_START_TIME_DESC", limit: 50, page: 1 });
      paginate.push(performance.now() - t);
    }
    const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms (min ${Math.min(...xs).toFixed(0)}, max ${Math.max(...xs).toFixed(0)})`;
    const cpu = (ts: Timing[]) => `${median(ts.map((t) => t.taskMs)).toFixed(0)} ms busy, ${median(ts.map((t) => t.scriptMs)).toFixed(0)} ms of it JavaScript (median)`;
    const steps = (ts: Timing[]) => Object.keys(ts[0]!.steps).map((k) => `${k} ${median(ts.map((t) => t.steps[k]!)).toFixed(0)}`).join(" → ") + ` → rows ${median(ts.map((t) => t.firstRows)).toFixed(0)} ms`;
    console.log(`database: ${database.where}`);
    console.log(`runs page, ${RUNS.toLocaleString()} runs, ${count} rows shown, ${REPEAT} loads each:`);
    const coldMs = cold.map((t) => t.firstRows);
    console.log(`  first render, cold (fresh profile): ${fmt(coldMs)}  ${median(coldMs) < TARGET_MS ? "< 1 s target: met" : "> 1 s target: NOT met"}`);
    console.log(`    steps (median, ms from navigation start): ${steps(cold)}`);
    console.log(`    renderer main thread: ${cpu(cold)}`);
    console.log(`  first render, warm (assets cached): ${fmt(warm.map((t) => t.firstRows))}`);
    console.log(`    steps: ${steps(warm)}`);
    console.log(`    renderer main thread: ${cpu(warm)}`);
    console.log(`  POST /flow_runs/paginate (first page + count) alone: ${fmt(paginate)}`);
    bundleReport(loaded);
  } finally {
    await server.stop();
    await database.release();
  }
}

await main();
