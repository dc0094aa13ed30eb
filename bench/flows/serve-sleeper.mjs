// The `serve()` side of the sustained-load benchmark: serves the sleeper flow in this process,
// with no worker, until SIGTERM. BATON_API_URL names the server; BATON_BENCH_SERVE_LIMIT,
// BATON_BENCH_POLL_SECONDS and BATON_BENCH_PREFETCH_SECONDS tune serve().
import process from "node:process";
import { serve } from "@baton/sdk";
import { sleeper } from "./sleeper.mjs";

const number = (name, fallback) => (process.env[name] ? Number(process.env[name]) : fallback);

await serve([{ flow: sleeper, name: "bench-serve" }], {
  limit: number("BATON_BENCH_SERVE_LIMIT", undefined),
  pollIntervalSeconds: number("BATON_BENCH_POLL_SECONDS", 1),
  prefetchSeconds: number("BATON_BENCH_PREFETCH_SECONDS", 10),
});
