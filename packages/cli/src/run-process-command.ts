import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const BATON_BIN = fileURLToPath(new URL("../bin/baton.js", import.meta.url));

/** The packages a flow run process loads, each built into one file by scripts/bundle-packages.mjs. */
const BUNDLED_PACKAGES = ["@baton/core", "@baton/sdk", "@baton/worker"] as const;

/**
 * V8's memory reducer runs two full garbage collections in every process that has been idle
 * for 8 s, which a flow run waiting on I/O always is: ~30 ms of CPU per run (a seventh of a
 * run process's whole cost) to hand back ~3 MB. A flow that allocates is still collected as
 * usual; an idle one keeps its heap until it ends.
 */
const V8_FLAGS = ["--no-memory-reducer"];

/**
 * The command a worker starts for each flow run, the run's id to be appended:
 * `node --conditions=baton-bundle --no-memory-reducer baton.js flow-run execute`. The
 * condition makes the process load the one-file builds of core, SDK and worker (package.json
 * "exports"), which load with about a third of the CPU of the ~150 modules they are made of.
 * Where a build has no bundles (`tsc -b` without `npm run build`), it runs without it.
 */
export function flowRunCommand(): string[] {
  const bundled = BUNDLED_PACKAGES.every((name) => existsSync(fileURLToPath(new URL("bundle.mjs", import.meta.resolve(name)))));
  return [process.execPath, ...(bundled ? ["--conditions=baton-bundle"] : []), ...V8_FLAGS, BATON_BIN, "flow-run", "execute"];
}
