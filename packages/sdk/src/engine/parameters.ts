/**
 * Flow run parameters are recorded by name, as Prefect records them. JavaScript keeps no
 * parameter names at run time, so they are read from the function's source: plain names,
 * defaults and `...rest` are named; a destructured parameter is recorded as `arg<i>`.
 */
export function parameterNames(fn: (...args: never[]) => unknown): ReadonlyArray<Readonly<{ name: string; rest: boolean }>> {
  let names = namesByFunction.get(fn);
  if (names === undefined) {
    names = Object.freeze(parameterDeclarations(fn).map(({ name, rest }) => Object.freeze({ name, rest })));
    namesByFunction.set(fn, names);
  }
  return names;
}

/** A function's source does not change: a task called 5,000 times parses it once, not per run. */
const namesByFunction = new WeakMap<(...args: never[]) => unknown, ReadonlyArray<Readonly<{ name: string; rest: boolean }>>>();

/**
 * Each parameter as `parameterNames` names it, with the source text of its default value
 * (`undefined` when it has none), which a deployment's parameter schema is built from.
 */
export function parameterDeclarations(fn: (...args: never[]) => unknown): Array<{ name: string; rest: boolean; defaultSource: string | undefined }> {
  const source = stripComments(Function.prototype.toString.call(fn)).trim();
  // `x => ...` and `async x => ...`: a single bare parameter.
  const bare = /^(?:async\s+)?([A-Za-z_$][\w$]*)\s*=>/.exec(source);
  if (bare?.[1]) return [{ name: bare[1], rest: false, defaultSource: undefined }];
  const open = source.indexOf("(");
  if (open < 0) return [];
  const list = balancedContent(source, open);
  if (list === undefined) return [];
  return splitTopLevel(list)
    .map((p) => p.trim())
    .filter((p) => p.length > 0)
    .map((p, i) => {
      const rest = p.startsWith("...");
      const text = rest ? p.slice(3).trim() : p;
      const ident = /^[A-Za-z_$][\w$]*/.exec(text)?.[0];
      return { name: ident ?? `arg${i}`, rest, defaultSource: defaultSourceOf(text, ident) };
    });
}

/** The text after a parameter's top-level `=`: `b = "x"` and `{ a } = {}` have one, `c` has none. */
function defaultSourceOf(text: string, ident: string | undefined): string | undefined {
  let end: number;
  if (ident !== undefined) end = ident.length;
  else {
    const inner = balancedContent(text, 0);
    if (inner === undefined) return undefined;
    end = inner.length + 2;
  }
  const after = text.slice(end).trim();
  return after.startsWith("=") ? after.slice(1).trim() : undefined;
}

/** Maps call arguments to `{ name: value }` using the function's parameter names. */
export function namedParameters(fn: (...args: never[]) => unknown, args: readonly unknown[]): Record<string, unknown> {
  const names = parameterNames(fn);
  const out: Record<string, unknown> = {};
  let i = 0;
  for (const p of names) {
    if (p.rest) {
      out[p.name] = args.slice(i);
      i = args.length;
      break;
    }
    if (i < args.length) out[p.name] = args[i];
    i++;
  }
  for (; i < args.length; i++) out[`arg${i}`] = args[i];
  return out;
}

/**
 * The call arguments for recorded parameters (`{ name: value }`), the inverse of
 * `namedParameters`: used to run a flow for a run created from a deployment. A missing
 * parameter is passed as `undefined` (so its default applies); one that matches no parameter
 * of the function is a `TypeError` naming it.
 */
export function argumentsFromParameters(fn: (...args: never[]) => unknown, parameters: Record<string, unknown>): unknown[] {
  const names = parameterNames(fn);
  const args: unknown[] = [];
  const used = new Set<string>();
  for (const [i, p] of names.entries()) {
    if (!(p.name in parameters)) {
      if (!p.rest) args[i] = undefined;
      continue;
    }
    used.add(p.name);
    const value = parameters[p.name];
    if (!p.rest) {
      args[i] = value;
      continue;
    }
    if (!Array.isArray(value)) throw new TypeError(`parameter '${p.name}' collects the remaining arguments and must be a list`);
    args.push(...(value as unknown[]));
  }
  const hasRest = names.some((p) => p.rest);
  for (const [key, value] of Object.entries(parameters)) {
    if (used.has(key)) continue;
    // Extra positional arguments are recorded as arg<i> by namedParameters.
    const position = /^arg(\d+)$/.exec(key)?.[1];
    if (position === undefined || hasRest || Number(position) < names.length) {
      const known = names.map((p) => p.name).join(", ") || "none";
      throw new TypeError(`parameter '${key}' matches no parameter of the flow function (its parameters: ${known})`);
    }
    args[Number(position)] = value;
  }
  while (args.length > 0 && args[args.length - 1] === undefined) args.pop();
  return args;
}

/**
 * A JSON-safe copy of a value for recording (parameters, log context). Unlike results, these
 * are informational, so a value that JSON cannot carry is replaced by a short description.
 */
export function toJsonSafe(value: unknown, ancestors: object[] = []): unknown {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : String(value);
    case "bigint":
      return value.toString();
    case "undefined":
      return null;
    case "symbol":
      return value.toString();
    case "function":
      return `<function ${value.name || "anonymous"}>`;
    case "object": {
      if (value === null) return null;
      if (ancestors.includes(value)) return "<circular>";
      if (value instanceof Date) return Number.isNaN(value.getTime()) ? "Invalid Date" : value.toISOString();
      const next = [...ancestors, value];
      if (Array.isArray(value)) return value.map((v) => toJsonSafe(v, next));
      if (value instanceof Map) return Object.fromEntries([...value].map(([k, v]) => [String(k), toJsonSafe(v, next)]));
      if (value instanceof Set) return [...value].map((v) => toJsonSafe(v, next));
      if (ArrayBuffer.isView(value)) return `<${value.constructor.name} ${value.byteLength} bytes>`;
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        if (v !== undefined) out[k] = toJsonSafe(v, next);
      }
      return out;
    }
    default:
      return String(value);
  }
}

/** Text inside the bracket pair that opens at `open`, skipping strings and nested brackets. */
function balancedContent(source: string, open: number): string | undefined {
  let depth = 0;
  let quote: string | undefined;
  for (let i = open; i < source.length; i++) {
    const c = source[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return source.slice(open + 1, i);
    }
  }
  return undefined;
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quote: string | undefined;
  let start = 0;
  for (let i = 0; i < list.length; i++) {
    const c = list[i];
    if (quote) {
      if (c === "\\") i++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") quote = c;
    else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      parts.push(list.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(list.slice(start));
  return parts;
}

function stripComments(source: string): string {
  let out = "";
  let quote: string | undefined;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    const next = source[i + 1];
    if (quote) {
      out += c;
      if (c === "\\") {
        out += next ?? "";
        i++;
      } else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === "'" || c === "`") {
      quote = c;
      out += c;
    } else if (c === "/" && next === "*") {
      const end = source.indexOf("*/", i + 2);
      i = end < 0 ? source.length : end + 1;
      out += " ";
    } else if (c === "/" && next === "/") {
      const end = source.indexOf("\n", i + 2);
      i = end < 0 ? source.length : end - 1;
    } else out += c;
  }
  return out;
}
