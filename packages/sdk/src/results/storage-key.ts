import { InvalidOptionError } from "../errors.js";

/**
 * `resultStorageKey` templates (Prefect's `result_storage_key`): a Python `str.format`-style
 * string rendered when the task runs, e.g. `"{parameters[city]}-{flow_run.id}"` or
 * `"reports/{flow_run.scheduled_start_time:%Y-%m-%d}/{task_run.name}"`.
 *
 * Fields: `parameters` (the task's arguments by name: `{parameters[x]}`), `flow_run` and
 * `task_run` (the attributes in FIELDS below), and `deployment` (`id`), followed by any chain
 * of `.attr` / `[key]` / `[0]` into the value. `{{` and `}}` are literal braces. A format
 * spec (`:%Y%m%d`) is strftime, on dates only. Values render as Python would write them for
 * scalars (`None`, `True`, `False`), strings as they are, dates as ISO 8601, and objects and
 * arrays as JSON.
 *
 * The template is parsed when the task is defined, so an unknown field or a syntax error fails
 * `task()` naming the option; what depends on the call (a parameter the call lacks, an index
 * past the end) fails the run.
 */

/** The attributes of each top-level field, as `prefect.runtime` offers them. */
const FIELDS = {
  flow_run: ["id", "name", "flow_name", "tags", "parameters", "scheduled_start_time", "run_count", "deployment_id", "parent_task_run_id"],
  task_run: ["id", "name", "task_name", "tags", "parameters", "run_count"],
  deployment: ["id"],
} as const satisfies Record<string, readonly string[]>;
type Runtime = keyof typeof FIELDS;
const TOP_LEVEL = ["parameters", ...Object.keys(FIELDS)] as const;

/** Attributes holding dates (ISO strings), so a strftime spec on them is checked when the task is defined. */
const DATE_FIELDS = new Set(["flow_run.scheduled_start_time"]);
const STRFTIME = /%(.?)/g;
const DIRECTIVES = new Set(["Y", "y", "m", "d", "H", "M", "S", "f", "j", "%"]);

type Accessor = { kind: "attr"; name: string } | { kind: "index"; key: string | number };
type Part = { kind: "text"; text: string } | { kind: "field"; source: string; root: string; accessors: Accessor[]; spec: string | undefined };

/** What a template is rendered with: one call of the task. */
export interface StorageKeyContext {
  parameters: Record<string, unknown>;
  /** Outside a flow run its attributes are `null` (rendered `None`, as Prefect's), `tags` `[]` and `parameters` `{}`. */
  flow_run: Record<(typeof FIELDS)["flow_run"][number], unknown>;
  task_run: Record<(typeof FIELDS)["task_run"][number], unknown>;
  deployment: Record<(typeof FIELDS)["deployment"][number], unknown>;
}

export class StorageKeyTemplate {
  private readonly parts: Part[];

  /** Parses `template`; a bad one throws `InvalidOptionError` naming `option`. */
  constructor(
    readonly template: string,
    private readonly option: string,
  ) {
    if (typeof template !== "string" || template.trim() === "") throw new InvalidOptionError(option, "must be a non-empty string template");
    this.parts = parse(template, (message) => new InvalidOptionError(option, `${message} in "${template}"`));
  }

  /** The key for one call; throws `InvalidOptionError` naming the option when the call lacks what the template asks for. */
  render(context: StorageKeyContext): string {
    let out = "";
    for (const part of this.parts) {
      if (part.kind === "text") {
        out += part.text;
        continue;
      }
      const fail = (message: string) => new InvalidOptionError(this.option, `{${part.source}}: ${message} (template "${this.template}")`);
      let value: unknown = context[part.root as keyof StorageKeyContext];
      let path = part.root;
      for (const accessor of part.accessors) {
        value = step(value, accessor, path, fail);
        path += accessor.kind === "attr" ? `.${accessor.name}` : `[${accessor.key}]`;
      }
      out += part.spec === undefined ? stringify(value) : strftime(value, part.spec, fail);
    }
    if (out.trim() === "") throw new InvalidOptionError(this.option, `the template "${this.template}" rendered an empty key`);
    return out;
  }
}

function parse(template: string, error: (message: string) => Error): Part[] {
  const parts: Part[] = [];
  let text = "";
  let i = 0;
  while (i < template.length) {
    const c = template[i]!;
    if (c === "}") {
      if (template[i + 1] !== "}") throw error("a single '}' (write '}}' for a literal brace)");
      text += "}";
      i += 2;
      continue;
    }
    if (c !== "{") {
      text += c;
      i++;
      continue;
    }
    if (template[i + 1] === "{") {
      text += "{";
      i += 2;
      continue;
    }
    const end = template.indexOf("}", i + 1);
    if (end === -1) throw error("a '{' is never closed (write '{{' for a literal brace)");
    const body = template.slice(i + 1, end);
    if (body.includes("{")) throw error("nested '{' inside a field is not supported");
    if (text !== "") parts.push({ kind: "text", text });
    text = "";
    parts.push(parseField(body, error));
    i = end + 1;
  }
  if (text !== "") parts.push({ kind: "text", text });
  return parts;
}

function parseField(body: string, error: (message: string) => Error): Part {
  const colon = body.indexOf(":");
  const fieldAndConversion = colon === -1 ? body : body.slice(0, colon);
  const spec = colon === -1 ? undefined : body.slice(colon + 1);
  if (fieldAndConversion.includes("!")) throw error(`{${body}}: conversions ('!r', '!s') are not supported`);
  const field = fieldAndConversion;
  const root = /^[A-Za-z_][A-Za-z0-9_]*/.exec(field)?.[0];
  if (root === undefined) {
    throw error(field === "" ? "an empty field '{}' (name what to insert, e.g. {parameters[x]})" : `{${body}}: positional or malformed field (fields are ${TOP_LEVEL.join(", ")})`);
  }
  if (!(TOP_LEVEL as readonly string[]).includes(root)) throw error(`unknown field '${root}' (known: ${TOP_LEVEL.join(", ")})`);
  const accessors: Accessor[] = [];
  let rest = field.slice(root.length);
  while (rest !== "") {
    const attr = /^\.([A-Za-z_][A-Za-z0-9_]*)/.exec(rest);
    if (attr !== null) {
      accessors.push({ kind: "attr", name: attr[1]! });
      rest = rest.slice(attr[0].length);
      continue;
    }
    const index = /^\[([^\]]+)\]/.exec(rest);
    if (index !== null) {
      const key = index[1]!;
      accessors.push({ kind: "index", key: /^\d+$/.test(key) ? Number(key) : key });
      rest = rest.slice(index[0].length);
      continue;
    }
    throw error(`{${body}}: cannot read '${rest}' (use .attribute or [key])`);
  }
  const first = accessors[0];
  if (root === "parameters") {
    if (first?.kind === "attr") throw error(`{${body}}: parameters are read by key: {parameters[${first.name}]}`);
  } else {
    const known = FIELDS[root as Runtime] as readonly string[];
    if (first === undefined || first.kind !== "attr") throw error(`{${body}}: name an attribute of ${root} (${known.join(", ")})`);
    if (!known.includes(first.name)) throw error(`unknown field '${root}.${first.name}' (${root} has ${known.join(", ")})`);
  }
  if (spec !== undefined) {
    const path = first?.kind === "attr" ? `${root}.${first.name}` : root;
    if (spec === "") throw error(`{${body}}: an empty format spec`);
    for (const match of spec.matchAll(STRFTIME)) {
      if (!DIRECTIVES.has(match[1] ?? "")) throw error(`{${body}}: unsupported strftime directive '%${match[1] ?? ""}' (supported: ${[...DIRECTIVES].map((d) => `%${d}`).join(" ")})`);
    }
    if (!spec.includes("%")) throw error(`{${body}}: a format spec is a strftime pattern for dates (e.g. :%Y-%m-%d)`);
    if (root !== "parameters" && accessors.length === 1 && !DATE_FIELDS.has(path)) throw error(`{${body}}: a format spec applies to dates only, and ${path} is not one`);
  }
  return { kind: "field", source: body, root, accessors, spec };
}

function step(value: unknown, accessor: Accessor, path: string, fail: (message: string) => Error): unknown {
  if (value === null || value === undefined || typeof value !== "object") {
    throw fail(`${path} is ${stringify(value)}, which has no ${accessor.kind === "attr" ? `attribute '${accessor.name}'` : `item [${accessor.key}]`}`);
  }
  if (accessor.kind === "index" && Array.isArray(value)) {
    if (typeof accessor.key !== "number") throw fail(`${path} is a list: index it with a number`);
    if (accessor.key >= value.length) throw fail(`${path} has ${value.length} item(s), so no [${accessor.key}]`);
    return value[accessor.key] as unknown;
  }
  const key = accessor.kind === "attr" ? accessor.name : String(accessor.key);
  if (!Object.prototype.hasOwnProperty.call(value, key)) {
    const known = Object.keys(value);
    throw fail(`${path} has no ${accessor.kind === "attr" ? "attribute" : "key"} '${key}'${known.length > 0 ? ` (it has ${known.join(", ")})` : ""}`);
  }
  return (value as Record<string, unknown>)[key];
}

function stringify(value: unknown): string {
  if (value === null || value === undefined) return "None";
  if (value === true) return "True";
  if (value === false) return "False";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "bigint") return String(value);
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value) ?? String(value);
}

function strftime(value: unknown, spec: string, fail: (message: string) => Error): string {
  const date = value instanceof Date ? value : typeof value === "string" && !Number.isNaN(Date.parse(value)) ? new Date(value) : undefined;
  if (date === undefined) throw fail(`the format spec ':${spec}' needs a date, not ${stringify(value)}`);
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const start = Date.UTC(date.getUTCFullYear(), 0, 1);
  // All in UTC: the same run renders the same key on every machine.
  return spec.replace(STRFTIME, (_, d: string) => {
    switch (d) {
      case "Y":
        return String(date.getUTCFullYear());
      case "y":
        return pad(date.getUTCFullYear() % 100);
      case "m":
        return pad(date.getUTCMonth() + 1);
      case "d":
        return pad(date.getUTCDate());
      case "H":
        return pad(date.getUTCHours());
      case "M":
        return pad(date.getUTCMinutes());
      case "S":
        return pad(date.getUTCSeconds());
      case "f":
        return pad(date.getUTCMilliseconds() * 1000, 6);
      case "j":
        return pad(Math.floor((date.getTime() - start) / 86_400_000) + 1, 3);
      default:
        return "%";
    }
  });
}

const parsed = new Map<string, StorageKeyTemplate>();
/** The parsed template, parsed once per distinct template (task() has checked it already). */
export function storageKeyTemplate(template: string, option: string): StorageKeyTemplate {
  let found = parsed.get(template);
  if (found === undefined) {
    found = new StorageKeyTemplate(template, option);
    parsed.set(template, found);
  }
  return found;
}
