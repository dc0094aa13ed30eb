/** Deeper bodies are refused: nothing in the API needs them, and they can exhaust the stack. */
const MAX_JSON_DEPTH = 64;

/** An escape of a UTF-16 surrogate (`\ud800`...`\udfff`), paired or not. */
const SURROGATE_ESCAPE = /\\u[dD][89a-fA-F]/;
/** A surrogate without its other half (db/queries/events.ts replaces them in bound JSON). */
export const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * What in a parsed body neither database could store: nesting beyond MAX_JSON_DEPTH, a NUL
 * character (PostgreSQL refuses it in text and JSON; it is refused on both databases so they
 * behave alike), or a lone surrogate (JSON allows `"\ud800"`; PostgreSQL's jsonb refuses it,
 * so an event carrying one was accepted and then dropped by the persister, and an automation
 * was a 500). Most bodies are cleared without building a path per value (that walk was a
 * tenth of the server's time on a 5,000-task flow's event batches): JSON text cannot hold a
 * raw NUL or a raw surrogate (UTF-8 has none), so a body without the escapes `\u0000` and
 * `\ud800`... has neither, and only depth is left to check.
 */
export function unstorableJson(text: string, value: unknown): string | undefined {
  if (!text.includes("\\u0000") && !SURROGATE_ESCAPE.test(text) && withinDepth(value, 1)) return undefined;
  return describeUnstorable(value);
}

/** No object or array nested deeper than MAX_JSON_DEPTH (the body itself is level 1). */
function withinDepth(node: unknown, level: number): boolean {
  if (node === null || typeof node !== "object") return true;
  if (level > MAX_JSON_DEPTH) return false;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) if (!withinDepth(node[i], level + 1)) return false;
    return true;
  }
  for (const key in node) if (!withinDepth((node as Record<string, unknown>)[key], level + 1)) return false;
  return true;
}

/** The problem and where it is, walked without recursion. */
function describeUnstorable(value: unknown): string | undefined {
  const stack: Array<[unknown, string[]]> = [[value, ["body"]]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (typeof node === "string") {
      if (node.includes("\u0000")) return `${path.join(".")}: strings may not contain NUL (\\u0000) characters`;
      if (LONE_SURROGATE.test(node)) return `${path.join(".")}: strings may not contain a lone surrogate (an unpaired \\ud800-\\udfff)`;
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    if (path.length > MAX_JSON_DEPTH) return `${path.slice(0, 3).join(".")}...: nested deeper than ${MAX_JSON_DEPTH} levels`;
    for (const [key, child] of Object.entries(node)) {
      if (key.includes("\u0000")) return `${path.join(".")}: keys may not contain NUL (\\u0000) characters`;
      if (LONE_SURROGATE.test(key)) return `${path.join(".")}: keys may not contain a lone surrogate (an unpaired \\ud800-\\udfff)`;
      stack.push([child, [...path, key]]);
    }
  }
  return undefined;
}
