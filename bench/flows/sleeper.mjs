// The flow the sustained-load benchmark runs: it sleeps for the run's `seconds` and records
// each execution (one line per attempt) so the benchmark can tell a run executed twice from
// one executed once. Plain JavaScript, so a flow run process needs no TypeScript loader.
import { appendFileSync } from "node:fs";
import process from "node:process";
import { setTimeout as sleep } from "node:timers/promises";
import { flow, getRunContext } from "@baton/sdk";

export const sleeper = flow({ name: "bench-sleeper" }, async function sleeper(seconds = 30) {
  const recorder = process.env["BATON_BENCH_RECORDER"];
  const run = getRunContext().flowRun;
  if (recorder && run) appendFileSync(recorder, `${run.id} ${Date.now()}\n`);
  await sleep(seconds * 1000);
  return seconds;
});
