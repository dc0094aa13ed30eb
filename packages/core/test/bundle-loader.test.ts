import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";

/**
 * The loader runs in fresh processes, as in a flow run process: the V8 code cache is written
 * when a process exits and read by the next one. It is the built module (`npm run build`).
 */
const run = promisify(execFile);
const LOADER = pathToFileURL(fileURLToPath(new URL("../dist/bundle-loader.js", import.meta.url))).href;

/** A CommonJS "bundle" that requires a builtin, imports through the hook, and counts its own evaluations. */
const BUNDLE = `
const { sep } = require("node:path");
globalThis.evaluations = (globalThis.evaluations ?? 0) + 1;
exports.sep = sep;
exports.filename = __filename;
exports.importSep = () => globalThis[Symbol.for("baton.importModule")]("node:path").then((m) => m.sep);
exports.resolved = () => globalThis[Symbol.for("baton.bundleResolvers")][__filename]("some-package");
`;

let dir: string;
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function bundleDir(source = BUNDLE): string {
  dir = mkdtempSync(join(tmpdir(), "baton-bundle-loader-"));
  writeFileSync(join(dir, "bundle.cjs"), source);
  return dir;
}

interface Report {
  cache: string[];
  sep: string | number;
  importedSep: string;
  resolved: string;
  filename: string;
  sameExports: boolean;
  evaluations: number;
}

/** Loads the bundle twice in a new process (and requires it once) and reports what happened. */
async function loadInProcess(bundleFolder: string): Promise<Report> {
  const file = join(bundleFolder, "bundle.cjs");
  const script = `
    import { createRequire } from "node:module";
    import { loadBundle, loadedBundles } from ${JSON.stringify(LOADER)};
    const url = new URL(${JSON.stringify(pathToFileURL(file).href)});
    const first = loadBundle(url, (specifier) => "resolved:" + specifier);
    const again = loadBundle(url);
    const required = createRequire(import.meta.url)(${JSON.stringify(file)});
    console.log(JSON.stringify({
      cache: loadedBundles().map((b) => b.cache),
      sep: first.sep,
      importedSep: await first.importSep(),
      resolved: first.resolved(),
      filename: first.filename,
      sameExports: first === again && first === required,
      evaluations: globalThis.evaluations,
    }));`;
  const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
  return JSON.parse(stdout) as Report;
}

const cacheFiles = (folder: string) => readdirSync(folder).filter((name) => name.endsWith(".v8cache"));

describe("loadBundle", () => {
  it("compiles a bundle once per process, and writes its code cache for the next one", async () => {
    const folder = bundleDir();
    const first = await loadInProcess(folder);
    expect(first).toMatchObject({ cache: ["missing"], sep: "/", importedSep: "/", filename: join(folder, "bundle.cjs"), sameExports: true, evaluations: 1 });
    // The facade's import.meta.resolve, kept for the bundle's own.
    expect(first.resolved).toBe("resolved:some-package");
    expect(cacheFiles(folder)).toHaveLength(1);

    const second = await loadInProcess(folder);
    // From the cache, and import() through the loader's hook still works (native import() would not).
    expect(second).toMatchObject({ cache: ["used"], sep: "/", importedSep: "/", sameExports: true, evaluations: 1 });
    expect(cacheFiles(folder)).toHaveLength(1);
  });

  it("does not use a cache made for another build of the bundle", async () => {
    const folder = bundleDir();
    await loadInProcess(folder);
    const [oldCache] = cacheFiles(folder);
    // Same length, other text: V8 alone would accept the old cache.
    writeFileSync(join(folder, "bundle.cjs"), BUNDLE.replace("exports.sep = sep;", "exports.sep = 1+1;"));
    const rebuilt = await loadInProcess(folder);
    expect(rebuilt).toMatchObject({ cache: ["missing"], sep: 2 });
    expect(cacheFiles(folder)).toContain(oldCache);
    expect(cacheFiles(folder)).toHaveLength(2);
  });

  it("replaces a cache V8 rejects, and compiles from source meanwhile", async () => {
    const folder = bundleDir();
    await loadInProcess(folder);
    const [cache] = cacheFiles(folder);
    writeFileSync(join(folder, cache!), "not a V8 code cache");
    const rejected = await loadInProcess(folder);
    expect(rejected).toMatchObject({ cache: ["rejected"], sep: "/", importedSep: "/" });
    expect((await loadInProcess(folder)).cache).toEqual(["used"]);
  });

  it("compiles from source, and replaces the cache, when the cache's bytes are damaged", async () => {
    const folder = bundleDir();
    await loadInProcess(folder);
    const [cache] = cacheFiles(folder);
    const bytes = readFileSync(join(folder, cache!));
    // Past the checksum: Node 20 would run damaged V8 data (and may crash) if it got it.
    bytes[bytes.length - 8] = bytes[bytes.length - 8]! ^ 0xff;
    writeFileSync(join(folder, cache!), bytes);
    expect(await loadInProcess(folder)).toMatchObject({ cache: ["rejected"], sep: "/", importedSep: "/" });
    expect((await loadInProcess(folder)).cache).toEqual(["used"]);
  });

  it("fails as require does when the bundle throws, and loads it again on the next call", async () => {
    const folder = bundleDir(`${BUNDLE}\nif (!globalThis.allowLoad) throw new Error("bundle failed");\n`);
    const file = join(folder, "bundle.cjs");
    const script = `
      import { loadBundle } from ${JSON.stringify(LOADER)};
      const url = new URL(${JSON.stringify(pathToFileURL(file).href)});
      let message;
      try { loadBundle(url); } catch (error) { message = error.message; }
      globalThis.allowLoad = true;
      console.log(JSON.stringify({ message, sep: loadBundle(url).sep, evaluations: globalThis.evaluations }));`;
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", script]);
    expect(JSON.parse(stdout)).toEqual({ message: "bundle failed", sep: "/", evaluations: 2 });
  });
});
