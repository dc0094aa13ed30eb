// The server process the lifecycle benchmark starts: one `startServer` on a free port, its
// database taken from the environment (BATON_DATABASE_URL, BATON_DATABASE_SCHEMA,
// BATON_DATABASE_POOL_SIZE). It prints one JSON line `{"url": ...}` once listening and closes
// cleanly on SIGTERM/SIGINT (or, under the benchmark, when its stdin closes), so that `node --cpu-prof` gets to write
// its profile.
//
// Plain JavaScript on purpose: run as `node bench/serve.mjs`, the process holds only the built
// server, as in production, with no TypeScript loader thread beside it to skew CPU, RSS and
// profiles. It stands in for `baton server start --port 0` (`--launcher cli`), needing only
// `@baton/server` built, not the CLI and SDK.
import process from "node:process";
import { startServer } from "@baton/server";

const server = await startServer({ config: { port: 0, logLevel: "silent" } });
process.stdout.write(`${JSON.stringify({ url: server.url, pid: process.pid })}\n`);

let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  server.close().then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`close failed: ${String(error)}\n`);
      process.exit(1);
    },
  );
}
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// Started by the benchmark, which holds our stdin open: when it goes away (even killed), so do we.
if (process.env.BATON_BENCH_WATCH_STDIN === "1") {
  process.stdin.on("end", stop);
  process.stdin.resume();
}
