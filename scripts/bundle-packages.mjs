#!/usr/bin/env node
/**
 * One-file builds of the packages a flow run process loads (core, sdk, worker), written next
 * to each package's tsc output. `npm run build` runs this after `tsc -b`.
 *
 * Why: a worker starts one process per flow run, and a process loading ~150 ES modules
 * (zod alone is 95, 64 of them locales) spent most of its start-up CPU in Node's module
 * loader and compiler. A process started with `node --conditions=baton-bundle` resolves
 * `@baton/*` to these files instead (see each package.json's "exports"):
 *
 * - `dist/bundle.cjs`: the package in one CommonJS file. CommonJS because Node 20 can load a
 *   script with a V8 code cache (core/src/bundle-loader.ts) but has no such cache for ES modules.
 * - `dist/bundle.mjs`: what `import` resolves to: it loads the bundled packages it depends on,
 *   then `bundle.cjs` through the loader, and re-exports its names. Importing the CommonJS file
 *   directly would make Node scan its whole text for export names (~90 ms for these three).
 *
 * Each package stays one copy per process: a bundle holds its own package only and requires
 * the others by name, so `instanceof ApiError` works across packages whichever build loaded.
 * zod lives inside core's bundle; the other packages take `z` from `@baton/core` and this
 * script fails if one imports zod itself, or calls `import()` other than through core's
 * `importModule` (code from a V8 cache cannot, on Node 20).
 */
import { build, transform } from "esbuild";
import { readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
/** In dependency order: a package's bundled dependencies come before it. */
const PACKAGES = ["core", "sdk", "worker"];
/** Only core carries a dependency inside its bundle; everything else is imported by name. */
const INLINED = { core: ["zod"] };
const BUNDLE_BANNER = [
  'var __bundleUrl = require("node:url").pathToFileURL(__filename).href;',
  "var __bundleResolve = (specifier) => {",
  '  const resolve = globalThis[Symbol.for("baton.bundleResolvers")]?.[__filename];',
  '  if (resolve === undefined) throw new Error(`${__filename} was not loaded through its bundle.mjs, so import.meta.resolve(${JSON.stringify(specifier)}) has no folder to resolve from`);',
  "  return resolve(specifier);",
  "};",
].join("\n");
/** The one place a bundled package may call import(): the hook's fallback outside bundles. */
const IMPORT_ALLOWED = new Set(["packages/core/dist/import-module.js"]);

for (const name of PACKAGES) {
  const dir = join(ROOT, "packages", name);
  const common = {
    absWorkingDir: ROOT,
    entryPoints: [join(dir, "dist/index.js")],
    bundle: true,
    platform: "node",
    target: "node20",
    // Readable stack traces: names and lines as in the modules they came from.
    minify: false,
    legalComments: "inline",
    metafile: true,
    // Warnings fail the build (below): e.g. an `import.meta` property other than url, which a
    // CommonJS file does not have.
    logLevel: "silent",
    plugins: [importsByName(INLINED[name] ?? []), withoutZodLocales()],
  };
  const result = await build({
    ...common,
    format: "cjs",
    outfile: join(dir, "dist/bundle.cjs"),
    // import.meta.url is the bundle's own URL, and import.meta.resolve resolves from its folder
    // (through the facade's own, which the loader keeps), as in each module of the plain build.
    banner: { js: BUNDLE_BANNER },
    define: { "import.meta.url": "__bundleUrl", "import.meta.resolve": "__bundleResolve" },
  });
  if (result.warnings.length > 0) {
    throw new Error(`packages/${name}: ${result.warnings.map((w) => `${w.location?.file ?? ""}:${w.location?.line ?? ""} ${w.text}`).join("; ")}`);
  }
  await checkImports(name, result.metafile);
  // The names to re-export, as esbuild lists them for the same entry as an ES module.
  const esm = await build({ ...common, format: "esm", outfile: join(dir, "dist/bundle-names.js"), write: false });
  const exportNames = Object.values(esm.metafile.outputs).flatMap((output) => output.exports);
  const dependencies = bundledDependencies(result.metafile);
  writeFileSync(join(dir, "dist/bundle.mjs"), facade(name, exportNames, dependencies));
  // Caches of an earlier build are for another text (bundle-loader.ts would not read them), and
  // bundle.js was the ES module bundle of earlier builds.
  for (const file of readdirSync(join(dir, "dist"))) {
    if (/\.v8cache(\.[0-9a-f]+\.tmp)?$/.test(file) || file === "bundle.js") rmSync(join(dir, "dist", file));
  }
}

/** The ES module `import` resolves to under the `baton-bundle` condition. */
function facade(name, exportNames, dependencies) {
  const loader = name === "core" ? "./bundle-loader.js" : "@baton/core/bundle-loader";
  const lines = [
    "// Written by scripts/bundle-packages.mjs: loads bundle.cjs (with its V8 code cache) and re-exports it.",
    ...dependencies.map((dependency) => `import "${dependency}";`),
    `import { loadBundle } from "${loader}";`,
    `const bundle = loadBundle(new URL("./bundle.cjs", import.meta.url), (specifier) => import.meta.resolve(specifier));`,
    `export const { ${exportNames.join(", ")} } = bundle;`,
    "",
  ];
  return lines.join("\n");
}

/** The other Baton packages this bundle requires: loaded first, so that their bundles come from the loader too. */
function bundledDependencies(metafile) {
  const names = Object.values(metafile.outputs)
    .flatMap((output) => output.imports)
    .filter((i) => i.external && i.path.startsWith("@baton/") && PACKAGES.includes(i.path.slice("@baton/".length)))
    .map((i) => i.path);
  return [...new Set(names)];
}

async function checkImports(name, metafile) {
  const outputs = Object.values(metafile.outputs);
  const zodImports = outputs.flatMap((output) => output.imports).filter((i) => i.external && /^zod(\/|$)/.test(i.path));
  if (zodImports.length > 0) {
    throw new Error(`packages/${name} imports zod directly (${zodImports.map((i) => i.path).join(", ")}); take z from @baton/core`);
  }
  for (const input of Object.keys(metafile.inputs)) {
    if (!input.startsWith(`packages/${name}/dist/`) || IMPORT_ALLOWED.has(input)) continue;
    // esbuild drops the comments; what is left of "import(" is a call (or, rarely, a string
    // that says it, which is reworded then).
    const { code } = await transform(readFileSync(join(ROOT, input), "utf8"), { loader: "js", minifyWhitespace: true, legalComments: "none" });
    if (/(?<![\w$.])import\(/.test(code)) {
      throw new Error(`${input} calls import(); use importModule from @baton/core (a bundle loaded from a V8 code cache cannot import on Node 20)`);
    }
  }
}

/** Every bare import (`@baton/core`, `pg`, `tsx/esm/api`) stays an import, except the packages inlined here. */
function importsByName(inlined) {
  return {
    name: "imports-by-name",
    setup(b) {
      b.onResolve({ filter: /^[^./]/ }, (args) => {
        const packageName = args.path.startsWith("@") ? args.path.split("/").slice(0, 2).join("/") : args.path.split("/")[0];
        return inlined.includes(packageName) ? undefined : { path: args.path, external: true };
      });
    },
  };
}

/**
 * zod's entry re-exports every locale as `z.locales` (64 modules, 350 KB), which esbuild keeps
 * although nothing here reads them; English, its default, is imported on its own and stays.
 */
function withoutZodLocales() {
  return {
    name: "without-zod-locales",
    setup(b) {
      b.onResolve({ filter: /\/locales\/index\.js$/ }, (args) => (args.importer.includes("/node_modules/zod/") ? { path: "zod-locales", namespace: "empty" } : undefined));
      b.onLoad({ filter: /.*/, namespace: "empty" }, () => ({ contents: "export {};", loader: "js" }));
    },
  };
}

