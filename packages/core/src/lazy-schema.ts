/**
 * A schema built the first time it is used rather than when its module loads.
 *
 * Why: a worker starts a Node process for every flow run, and building all of core's schemas
 * (about 140, most of them the server's request bodies and filters) took a sixth of such a
 * process's start-up CPU, though a run process parses with only a few of them. The value is
 * a stand-in that builds the schema on first touch and then forwards everything to it, so it
 * is used exactly as the schema itself (`.parse`, `.extend`, `instanceof`, in other shapes).
 *
 * @example
 * export const Flow = lazySchema(() => z.object({ id: Id, name: Name }));
 */
export function lazySchema<T extends object>(build: () => T): T {
  let schema: T | undefined;
  const real = (): T => (schema ??= build());
  // The proxy's own target stays an empty object; every trap answers for the built schema.
  return new Proxy({} as T, {
    get: (_, key) => Reflect.get(real(), key),
    set: (_, key, value) => Reflect.set(real(), key, value),
    has: (_, key) => Reflect.has(real(), key),
    ownKeys: () => Reflect.ownKeys(real()),
    getOwnPropertyDescriptor: (_, key) => {
      const descriptor = Reflect.getOwnPropertyDescriptor(real(), key);
      // A proxy may not report a property as non-configurable that its own target lacks.
      return descriptor === undefined ? undefined : { ...descriptor, configurable: true };
    },
    defineProperty: (_, key, descriptor) => Reflect.defineProperty(real(), key, descriptor),
    deleteProperty: (_, key) => Reflect.deleteProperty(real(), key),
    getPrototypeOf: () => Reflect.getPrototypeOf(real()),
  });
}
