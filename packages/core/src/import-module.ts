/**
 * `import(specifier)` for code of Baton's packages that may run from a one-file build.
 *
 * A bundle loaded with a V8 code cache (bundle-loader.ts) cannot call `import()` itself on
 * Node 20, so the loader registers its own `import()` under this symbol and this calls that;
 * without the loader (the packages' plain builds) it is the native `import()`. Pass a builtin
 * or an absolute URL: a package as `import.meta.resolve(name)`, so that it is found from the
 * calling package (the bundles keep `import.meta.resolve`, resolving from their own folder).
 *
 * @example
 * const { register } = await importModule<typeof import("tsx/esm/api")>(import.meta.resolve("tsx/esm/api"));
 */
export const IMPORT_MODULE_HOOK = Symbol.for("baton.importModule");

export function importModule<T = Record<string, unknown>>(specifier: string): Promise<T> {
  const hook = (globalThis as { [IMPORT_MODULE_HOOK]?: (specifier: string) => Promise<unknown> })[IMPORT_MODULE_HOOK];
  return (hook ? hook(specifier) : import(specifier)) as Promise<T>;
}

/** Where the loader keeps each bundle's `import.meta.resolve`, by the bundle's file path. */
export const BUNDLE_RESOLVERS = Symbol.for("baton.bundleResolvers");
