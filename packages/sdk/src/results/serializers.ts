import { deserialize, serialize } from "node:v8";
import { PickleNotSupportedError, SerializationError, UnknownSerializerError } from "../errors.js";
import { isPlainJson } from "./serializer.js";

/**
 * How a persisted result becomes the text in its record's `result` field, and back. The
 * record names its serializer (`metadata.serializer.type`), so any process that knows that
 * type can read it.
 *
 * @example
 * import { registerSerializer, type Serializer } from "@baton/sdk";
 * const upper: Serializer = { type: "upper-json", dumps: (v) => JSON.stringify(v).toUpperCase(), loads: (t) => JSON.parse(t.toLowerCase()) };
 * registerSerializer(upper);
 */
export interface Serializer {
  /** Written as `metadata.serializer.type`; the registry finds the serializer by it. */
  readonly type: string;
  dumps(value: unknown): string;
  loads(text: string): unknown;
}

/**
 * JSON (the default, Prefect's `"json"`): the record's `result` is the value's JSON text, so
 * records are readable by anything. Only values JSON gives back unchanged are accepted (a
 * Date, Map, BigInt or class instance is refused with a SerializationError: use `"v8"`).
 * `undefined` is stored as `null`.
 */
export const JsonSerializer: Serializer = {
  type: "json",
  dumps(value) {
    if (value === undefined) return "null";
    if (!isPlainJson(value, new Set())) {
      throw new SerializationError("json", `a ${describeKind(value)} is not plain JSON (use resultSerializer: "v8" for Dates, Maps, Sets, BigInts, typed arrays...)`);
    }
    return JSON.stringify(value);
  },
  loads(text) {
    return JSON.parse(text) as unknown;
  },
};

/**
 * V8's structured clone (`node:v8` serialize), base64 in the record: keeps Dates, Maps, Sets,
 * BigInts, RegExps, typed arrays, cycles and `undefined`; class instances come back as plain
 * objects, and functions and symbols are refused. Readable only by Node.js.
 */
export const V8Serializer: Serializer = {
  type: "v8",
  dumps(value) {
    try {
      return serialize(value).toString("base64");
    } catch (error) {
      throw new SerializationError("v8", error instanceof Error ? error.message : String(error), { cause: error });
    }
  },
  loads(text) {
    return deserialize(Buffer.from(text, "base64")) as unknown;
  },
};

const registry = new Map<string, Serializer>([
  [JsonSerializer.type, JsonSerializer],
  [V8Serializer.type, V8Serializer],
]);

/** Makes a serializer known by its type, for writing (`resultSerializer: "type"`) and reading records. */
export function registerSerializer(serializer: Serializer): void {
  if (typeof serializer?.type !== "string" || serializer.type.trim() === "") throw new SerializationError(String(serializer?.type), "a serializer needs a non-empty `type`");
  if (typeof serializer.dumps !== "function" || typeof serializer.loads !== "function") {
    throw new SerializationError(serializer.type, "a serializer needs dumps(value) and loads(text) functions");
  }
  registry.set(serializer.type, serializer);
}

/** The serializer for a type name (or the serializer itself); an unknown type throws `UnknownSerializerError`. */
export function resolveSerializer(serializer: string | Serializer): Serializer {
  if (typeof serializer !== "string") return serializer;
  const found = registry.get(serializer);
  if (found === undefined && isPickle(serializer)) throw new PickleNotSupportedError(serializer, [...registry.keys()]);
  if (found === undefined) throw new UnknownSerializerError(serializer, [...registry.keys()]);
  return found;
}

/** The registered serializer types. */
export function knownSerializers(): string[] {
  return [...registry.keys()];
}

/** Python Prefect's pickle serializers: `pickle` and `compressed/pickle`. */
export function isPickle(type: string): boolean {
  return type === "pickle" || type === "compressed/pickle";
}

function describeKind(value: unknown): string {
  if (value === null || typeof value !== "object") return typeof value;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: string } } | null)?.constructor?.name;
  return name ? `${name}` : "object";
}
