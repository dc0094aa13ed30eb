#!/usr/bin/env node
/**
 * One-file builds of the packages a flow run process loads (core, sdk, worker), written next
 * to each package's tsc output as `dist/bundle.js`. `npm run build` runs this after `tsc -b`.
 *
 * Why: a worker starts one process per flow run, and a process loading ~150 ES modules
 * (zod alone is 95, 64 of them locales) spent most of its start-up CPU in Node's module
 * loader. A process started with `node --conditions=baton-bundle` resolves `@baton/*` to these
 * files instead (see each package.json's "exports"): a handful of modules, the same code.
 *
 * Each package stays one copy per process: a bundle holds its own package only and imports
 * the others by name, so `instanceof ApiError` works across packages whichever build loaded.
 * zod lives inside core's bundle; the other packages take `z` from `@baton/core` and this
 * script fails if one imports zod itself.
 */
import { build } from "esbuild";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const PACKAGES = ["core", "sdk", "worker"];
/** Only core carries a dependency inside its bundle; everything else is imported by name. */
const INLINED = { core: ["zod"] };

for (const name of PACKAGES) {
  const dir = join(ROOT, "packages", name);
  const result = await build({
    entryPoints: [join(dir, "dist/index.js")],
    outfile: join(dir, "dist/bundle.js"),
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    // Readable stack traces: names and lines as in the modules they came from.
    minify: false,
    legalComments: "inline",
    metafile: true,
    logLevel: "warning",
    plugins: [importsByName(INLINED[name] ?? []), withoutZodLocales()],
  });
  const outputs = Object.values(result.metafile.outputs);
  const zodImports = outputs.flatMap((output) => output.imports).filter((i) => i.external && /^zod(\/|$)/.test(i.path));
  if (zodImports.length > 0) {
    throw new Error(`packages/${name} imports zod directly (${zodImports.map((i) => i.path).join(", ")}); take z from @baton/core`);
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
