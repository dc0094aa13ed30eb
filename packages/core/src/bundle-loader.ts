import { readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import { IMPORT_MODULE_HOOK } from "./import-module.js";

/**
 * Loads the one-file builds of Baton's packages (`dist/bundle.cjs`, written by
 * scripts/bundle-packages.mjs) with a V8 code cache beside each, so that a process started for
 * one flow run does not compile ~570 KB of JavaScript (zod most of it) from source again.
 *
 * Why a loader of our own: Node 20 has no compile cache for modules (`module.enableCompileCache`
 * came in 22.1); `vm.Script` accepts and produces V8 code caches. A process started with
 * `--conditions=baton-bundle` imports each package's `dist/bundle.mjs`, which calls
 * `loadBundle` here; the CommonJS module made here is put in `require.cache`, so the bundles'
 * own `require("@baton/core")` and any later import of the same package get this one copy.
 *
 * The cache of a bundle is written when the process exits, after its run, so that it holds the
 * functions the run compiled as well as the module's top level; it is written when there was
 * none, or V8 rejected it (another Node.js version or V8 flags), and not when another process
 * wrote one meanwhile. A cache that cannot be written (a read-only install) is not an error.
 *
 * Code compiled from a V8 cache in Node 20 cannot use `import()` (it fails with
 * ERR_VM_DYNAMIC_IMPORT_CALLBACK_MISSING), so the bundles import through `importModule`
 * (import-module.ts), which this module points at its own `import()`; the build fails if a
 * bundled package calls `import()` anywhere else.
 */

interface LoadedBundle {
  file: string;
  cacheFile: string;
  script: Script;
  /** What happened to the cache: used, or why it is (re)written at exit. */
  cache: "used" | "missing" | "rejected";
  /** mtime of the cache file when it was read; another writer changes it. */
  seenMtimeMs: number | undefined;
}

const loaded = new Map<string, LoadedBundle>();
let exitHookInstalled = false;

/**
 * Loads a bundle (a CommonJS file) once per process and returns its exports.
 *
 * @example
 * // dist/bundle.mjs
 * const bundle = loadBundle(new URL("./bundle.cjs", import.meta.url));
 * export const { flow, task } = bundle;
 */
export function loadBundle(url: URL): Record<string, unknown> {
  const file = fileURLToPath(url);
  const require = createRequire(file);
  const cached = require.cache[file];
  if (cached?.loaded) return cached.exports as Record<string, unknown>;
  installImportHook();
  const source = readFileSync(file, "utf8");
  const cacheFile = `${file}.${cacheKey(file)}.v8cache`;
  const cachedData = readOptional(cacheFile);
  const script = new Script(Module.wrap(source), { filename: file, ...(cachedData ? { cachedData: cachedData.data } : {}) });
  const cache = cachedData === undefined ? "missing" : script.cachedDataRejected === true ? "rejected" : "used";
  loaded.set(file, { file, cacheFile, script, cache, seenMtimeMs: cachedData?.mtimeMs });
  if (cache !== "used") installExitHook();

  const module = new Module(file);
  module.filename = file;
  module.paths = require.resolve.paths("x") ?? [];
  // In the cache before it runs, as Node's loader does, so that a require cycle finds it.
  require.cache[file] = module;
  try {
    const wrapper = script.runInThisContext() as (...args: unknown[]) => void;
    wrapper.call(module.exports, module.exports, require, module, file, dirname(file));
  } catch (error) {
    delete require.cache[file];
    throw error;
  }
  module.loaded = true;
  return module.exports as Record<string, unknown>;
}

/** The bundles this process loaded and what became of their caches (for tests and diagnostics). */
export function loadedBundles(): Array<{ file: string; cacheFile: string; cache: LoadedBundle["cache"] }> {
  return [...loaded.values()].map(({ file, cacheFile, cache }) => ({ file, cacheFile, cache }));
}

function installImportHook(): void {
  const hooks = globalThis as { [IMPORT_MODULE_HOOK]?: (specifier: string) => Promise<unknown> };
  // This module is an ES module compiled as usual, so its import() works.
  hooks[IMPORT_MODULE_HOOK] ??= (specifier) => import(specifier);
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", writeCaches);
}

function writeCaches(): void {
  for (const bundle of loaded.values()) {
    if (bundle.cache === "used") continue;
    // Another process wrote it since this one read it: leave theirs.
    if (mtimeOf(bundle.cacheFile) !== bundle.seenMtimeMs) continue;
    const temporary = `${bundle.cacheFile}.${process.pid}.tmp`;
    try {
      writeFileSync(temporary, bundle.script.createCachedData());
      renameSync(temporary, bundle.cacheFile);
    } catch {
      // Read-only or full disk: the next process compiles from source, as without a cache.
      try {
        unlinkSync(temporary);
      } catch {
        // Nothing was written.
      }
    }
  }
}

/**
 * Which build of the bundle a cache is for: its size and change time. V8 checks only that the
 * source has the length the cache was made from, so the file name must tell builds apart; the
 * change time is set by every write, copy or extraction (unlike mtime, which `npm pack` and
 * `cp -p` preserve). Hashing the text instead cost ~15 ms per process, a tenth of its start.
 */
function cacheKey(file: string): string {
  const stat = statSync(file);
  return `${stat.size.toString(36)}-${Math.round(stat.ctimeMs).toString(36)}`;
}

function readOptional(file: string): { data: Buffer; mtimeMs: number } | undefined {
  try {
    const mtimeMs = statSync(file).mtimeMs;
    return { data: readFileSync(file), mtimeMs };
  } catch {
    return undefined;
  }
}

function mtimeOf(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}
