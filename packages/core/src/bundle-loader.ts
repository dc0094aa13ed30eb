import { createHash, randomBytes } from "node:crypto";
import { accessSync, closeSync, constants, fstatSync, openSync, readFileSync, renameSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import Module, { createRequire } from "node:module";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { cachedDataVersionTag } from "node:v8";
import { Script } from "node:vm";
import { BUNDLE_RESOLVERS, IMPORT_MODULE_HOOK } from "./import-module.js";

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
 * wrote one meanwhile. A cache that cannot be written (a read-only install) is not an error:
 * that process finds the folder read-only and does not make one.
 *
 * Node 20 does not check a code cache's bytes, and a damaged one can crash the process, so
 * each file starts with a SHA-1 of the rest and one that does not match is compiled from
 * source and replaced. The file name carries the bundle's size and change time (V8 checks only
 * the source's length), taken from the open file the source was read from, and V8's own tag of
 * its version and flags (a process with other flags would reject the cache, and rewrite it).
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
 * Loads a bundle (a CommonJS file) once per process and returns its exports. `resolve` is the
 * facade's `import.meta.resolve`, which the bundle's own `import.meta.resolve` calls.
 *
 * @example
 * // dist/bundle.mjs
 * const bundle = loadBundle(new URL("./bundle.cjs", import.meta.url), (s) => import.meta.resolve(s));
 * export const { flow, task } = bundle;
 */
export function loadBundle(url: URL, resolve?: (specifier: string) => string): Record<string, unknown> {
  const file = fileURLToPath(url);
  const require = createRequire(file);
  const cached = require.cache[file];
  if (cached?.loaded) return cached.exports as Record<string, unknown>;
  installImportHook();
  if (resolve !== undefined) {
    const registry = globalThis as { [BUNDLE_RESOLVERS]?: Record<string, (specifier: string) => string> };
    (registry[BUNDLE_RESOLVERS] ??= {})[file] = resolve;
  }
  const { source, key } = readSource(file);
  const cacheFile = `${file}.${key}.v8cache`;
  const cachedData = readCache(cacheFile);
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
    try {
      accessSync(dirname(bundle.cacheFile), constants.W_OK);
    } catch {
      continue;
    }
    // Unique even across containers sharing the folder (process ids repeat there).
    const temporary = `${bundle.cacheFile}.${randomBytes(6).toString("hex")}.tmp`;
    try {
      const data = bundle.script.createCachedData();
      writeFileSync(temporary, Buffer.concat([checksum(data), data]), { flag: "wx" });
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
 * The bundle's text, and which build of it this is: size and change time, from the open file
 * the text was read from (so a rebuild in between cannot pair old text with a new name), and
 * V8's tag. The change time is set by every write, copy or extraction (unlike mtime, which
 * `npm pack` and `cp -p` preserve). Hashing the text instead cost ~15 ms per process.
 */
function readSource(file: string): { source: string; key: string } {
  const fd = openSync(file, "r");
  try {
    const stat = fstatSync(fd);
    const source = readFileSync(fd, "utf8");
    return { source, key: `${stat.size.toString(36)}-${Math.round(stat.ctimeMs).toString(36)}-${cachedDataVersionTag().toString(36)}` };
  } finally {
    closeSync(fd);
  }
}

const CHECKSUM_BYTES = 20;

function checksum(data: Buffer): Buffer {
  return createHash("sha1").update(data).digest();
}

/** A cache file's V8 data, or undefined if there is none; damaged data reads as rejected (empty). */
function readCache(file: string): { data: Buffer; mtimeMs: number } | undefined {
  let raw: Buffer;
  let mtimeMs: number;
  try {
    mtimeMs = statSync(file).mtimeMs;
    raw = readFileSync(file);
  } catch {
    return undefined;
  }
  const data = raw.subarray(CHECKSUM_BYTES);
  const intact = raw.length > CHECKSUM_BYTES && checksum(data).equals(raw.subarray(0, CHECKSUM_BYTES));
  // V8 rejects an empty cache, which makes this process compile from source and write a new one.
  return { data: intact ? data : Buffer.alloc(0), mtimeMs };
}

function mtimeOf(file: string): number | undefined {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return undefined;
  }
}
