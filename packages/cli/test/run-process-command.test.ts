import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The command a worker starts for each flow run loads the one-file builds of core, SDK and
 * worker (scripts/bundle-packages.mjs), with their V8 code caches (core's bundle-loader.ts).
 * These run in child processes, as a run process does, against the built package
 * (`npm run build` writes both dist/ and the bundles).
 */
const run = promisify(execFile);
const CLI_DIR = fileURLToPath(new URL("..", import.meta.url));
const FIXTURES = fileURLToPath(new URL("./fixtures", import.meta.url));
const COMMAND_MODULE = new URL("../dist/run-process-command.js", import.meta.url).href;
/** What `import` resolves to under the condition: each package's loader of its bundle.cjs. */
const FACADES = ["core", "sdk", "worker"].map((name) => fileURLToPath(new URL(`../../${name}/dist/bundle.mjs`, import.meta.url)));
const BUNDLES = FACADES.map((facade) => facade.replace(/\.mjs$/, ".cjs"));

async function nodeEval(args: string[], script: string): Promise<string> {
  const { stdout } = await run(process.execPath, [...args, "--input-type=module", "-e", script], { cwd: CLI_DIR });
  return stdout.trim();
}

describe("the flow run process command", () => {
  it("starts node with the bundle condition, then baton flow-run execute", async () => {
    for (const file of [...FACADES, ...BUNDLES]) expect(existsSync(file), `${file} (npm run build)`).toBe(true);
    const command = JSON.parse(await nodeEval([], `import { flowRunCommand } from ${JSON.stringify(COMMAND_MODULE)}; console.log(JSON.stringify(flowRunCommand()));`)) as string[];
    expect(command[0]).toBe(process.execPath);
    expect(command).toContain("--conditions=baton-bundle");
    expect(command.slice(-3)).toEqual([fileURLToPath(new URL("../bin/baton.js", import.meta.url)), "flow-run", "execute"]);
  });

  it("resolves every Baton package of a run process to its bundle, each loaded once", async () => {
    const script = `
      import { createRequire } from "node:module";
      const names = ["@baton/core", "@baton/sdk", "@baton/worker"];
      const core = await import("@baton/core");
      const sdk = await import("@baton/sdk");
      await import("@baton/worker");
      const require = createRequire(import.meta.url);
      // Imported in both cases: without the condition nothing may have gone through it.
      const loader = await import("@baton/core/bundle-loader");
      const bundledRequire = names.every((name) => require.resolve(name).endsWith("/dist/bundle.cjs"));
      console.log(JSON.stringify({
        resolved: names.map((name) => import.meta.resolve(name)),
        loaded: loader.loadedBundles().map((bundle) => bundle.file),
        bundledRequire,
        // The SDK's errors are core's classes, not a copy bundled into the SDK.
        sameApiError: sdk.ApiError === core.ApiError,
        zodWorks: core.z.object({ n: core.z.number() }).safeParse({ n: "x" }).success,
      }));`;
    const bundled = JSON.parse(await nodeEval(["--conditions=baton-bundle"], script)) as { resolved: string[]; loaded: string[]; bundledRequire: boolean; sameApiError: boolean; zodWorks: boolean };
    expect(bundled.bundledRequire).toBe(true);
    expect(bundled.resolved.map((url) => fileURLToPath(url))).toEqual(FACADES);
    // Each CommonJS bundle went through the loader once, dependencies first.
    expect(bundled.loaded).toEqual(BUNDLES);
    expect(bundled.sameApiError).toBe(true);
    expect(bundled.zodWorks).toBe(false);

    const plain = JSON.parse(await nodeEval([], script)) as { resolved: string[]; loaded: string[]; bundledRequire: boolean; sameApiError: boolean };
    expect(plain.bundledRequire).toBe(false);
    expect(plain.resolved.every((url) => url.endsWith("/dist/index.js"))).toBe(true);
    expect(plain.loaded).toEqual([]);
    expect(plain.sameApiError).toBe(true);
  });

  it("starts a second run process from the bundles' code caches, and imports the flow from cached code", async () => {
    const script = `
      const { loadFlow } = await import("@baton/worker");
      const { loadedBundles } = await import("@baton/core/bundle-loader");
      const flow = await loadFlow("plain-flow.mjs:plain", ${JSON.stringify(FIXTURES)}, process.cwd());
      console.log(JSON.stringify({ name: flow.name, runnable: typeof flow.runExisting, cache: loadedBundles().map((bundle) => bundle.cache) }));`;
    // The first process writes the caches if no earlier process has.
    const first = JSON.parse(await nodeEval(["--conditions=baton-bundle", "--no-memory-reducer"], script)) as { name: string };
    expect(first.name).toBe("plain-fixture");
    const second = JSON.parse(await nodeEval(["--conditions=baton-bundle", "--no-memory-reducer"], script)) as { name: string; runnable: string; cache: string[] };
    expect(second).toEqual({ name: "plain-fixture", runnable: "function", cache: ["used", "used", "used"] });
  });
});
