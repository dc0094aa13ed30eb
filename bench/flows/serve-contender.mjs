// The `serve()` side of the flow-control benchmark: serves a flow that holds a slot of a global
// concurrency limit for a while, and times every request the SDK makes to take and give back
// slots. On SIGTERM it writes what it measured to BATON_BENCH_STATS (JSON) and exits.
//   BATON_API_URL, BATON_BENCH_LIMIT (limit name), BATON_BENCH_HOLD_MS, BATON_BENCH_STATS,
//   BATON_BENCH_SERVE_LIMIT (serve()'s most runs at once; empty: no limit)
import { writeFileSync } from "node:fs";
import { monitorEventLoopDelay, performance } from "node:perf_hooks";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { BatonClient, concurrency, flow, serve } from "@baton/sdk";

const limitName = process.env.BATON_BENCH_LIMIT ?? "bench-slots";
const holdMs = Number(process.env.BATON_BENCH_HOLD_MS ?? 20);
const stats = { request: { granted: [], denied: [], released: [] }, waitMs: [], inside: 0, mostInside: 0, runs: 0, loopDelayP99Ms: 0 };
// How late this process's event loop ran: a request is only as quick as the loop that reads its answer.
const loopDelay = monitorEventLoopDelay({ resolution: 5 });
loopDelay.enable();

// Instrumentation: time each call the SDK makes to the concurrency routes.
const request = BatonClient.prototype.request;
BatonClient.prototype.request = async function timed(method, path, body) {
  if (!path.startsWith("/v2/concurrency_limits/")) return request.call(this, method, path, body);
  const started = performance.now();
  try {
    const result = await request.call(this, method, path, body);
    (path.includes("decrement") ? stats.request.released : stats.request.granted).push(performance.now() - started);
    return result;
  } catch (error) {
    if (error?.status === 423) stats.request.denied.push(performance.now() - started);
    throw error;
  }
};

const contender = flow({ name: "bench-contender", logPrints: false }, async function contender() {
  const asked = performance.now();
  await concurrency(limitName, async () => {
    stats.waitMs.push(performance.now() - asked);
    stats.inside += 1;
    stats.mostInside = Math.max(stats.mostInside, stats.inside);
    await sleep(holdMs);
    stats.inside -= 1;
  });
  stats.runs += 1;
});

// serve() stops on SIGTERM (after the runs in progress) and then resolves.
const serveLimit = Number(process.env.BATON_BENCH_SERVE_LIMIT || 0);
await serve([{ flow: contender, name: "bench-gcl" }], { pollIntervalSeconds: 0.2, prefetchSeconds: 0, ...(serveLimit > 0 ? { limit: serveLimit } : {}) });
stats.loopDelayP99Ms = loopDelay.percentile(99) / 1e6;
writeFileSync(process.env.BATON_BENCH_STATS ?? "/dev/null", JSON.stringify(stats));
process.exit(0);
