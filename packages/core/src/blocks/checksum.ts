import { createHash } from "node:crypto";

/**
 * The checksum Prefect gives a block schema, so that a schema registered by Baton's SDK and
 * the same fields registered by Prefect's Python client are one schema: `sha256:` and the hex
 * SHA-256 of the fields (without any `secret_fields`, and without `definitions` that only
 * describe nested blocks) serialised as Python's `json.dumps(((fields,), {}), sort_keys=True)`.
 *
 * A JSON number that is whole is written as an integer: a Python client sending `1.0` in
 * its fields would hash `1.0` where Baton, having parsed it as 1, hashes `1`.
 *
 * @example
 * blockSchemaChecksum({ type: "object", properties: {} }) // "sha256:..."
 */
export function blockSchemaChecksum(fields: Record<string, unknown>): string {
  const forChecksum = withoutKey(fields, "secret_fields") as Record<string, unknown>;
  const definitions = forChecksum.definitions;
  if (definitions && typeof definitions === "object" && !Array.isArray(definitions)) {
    const kept = Object.fromEntries(Object.entries(definitions).filter(([, d]) => !isBlockDefinition(d)));
    if (Object.keys(kept).length > 0) forChecksum.definitions = kept;
    else delete forChecksum.definitions;
  }
  const text = pythonJsonDumps([[forChecksum], {}]);
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

function isBlockDefinition(definition: unknown): boolean {
  return typeof definition === "object" && definition !== null && "block_type_slug" in definition;
}

/** A deep copy of `value` with `key` removed from every object in it. */
function withoutKey(value: unknown, key: string): unknown {
  if (Array.isArray(value)) return value.map((v) => withoutKey(v, key));
  if (value === null || typeof value !== "object") return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== key).map(([k, v]) => [k, withoutKey(v, key)]));
}

/** JSON text as Python's `json.dumps(value, sort_keys=True)` writes it (", " and ": " separators, ASCII only). */
export function pythonJsonDumps(value: unknown): string {
  if (value === null || value === undefined) return "null";
  if (value === true) return "true";
  if (value === false) return "false";
  if (typeof value === "number") return pythonNumber(value);
  if (typeof value === "string") return pythonString(value);
  if (Array.isArray(value)) return `[${value.map(pythonJsonDumps).join(", ")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${pythonString(k)}: ${pythonJsonDumps((value as Record<string, unknown>)[k])}`).join(", ")}}`;
  }
  throw new TypeError(`cannot serialise a ${typeof value} as JSON`);
}

function pythonNumber(n: number): string {
  if (!Number.isFinite(n)) return Number.isNaN(n) ? "NaN" : n > 0 ? "Infinity" : "-Infinity";
  // Python writes exponents with at least two digits (1e-07) where JavaScript writes one.
  return String(n).replace(/e([+-])(\d)$/, "e$10$2");
}

const ESCAPES: Record<string, string> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f" };

function pythonString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i]!;
    const code = s.charCodeAt(i);
    const escape = ESCAPES[ch];
    if (escape) out += escape;
    else if (code < 0x20 || code > 0x7e) out += `\\u${code.toString(16).padStart(4, "0")}`;
    else out += ch;
  }
  return `${out}"`;
}
