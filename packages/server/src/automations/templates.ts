import nunjucks from "nunjucks";

/**
 * Jinja-like templates, rendered as Prefect renders those of automations and webhooks
 * (`{{ flow_run.name }}`, `{{ event.resource["prefect.resource.name"] }}`, `{% if %}`,
 * `{% for %}`, filters such as `default`, `upper`, `tojson`), with nunjucks (Mozilla's port of
 * Jinja to JavaScript).
 *
 * Templates come from API users, so rendering is confined as Prefect's sandboxed Jinja is:
 * a template reads only the data it is given (own properties of plain objects and arrays, and
 * `length`), never a function, a prototype or a constructor, and cannot load other templates.
 * An attribute that is not there renders as nothing (Jinja's ChainableUndefined).
 */

type Runtime = {
  memberLookup(obj: unknown, val: unknown): unknown;
  contextOrFrameLookup(context: { lookup(name: string): unknown }, frame: { lookup(name: string): unknown }, name: string): unknown;
};

const FORBIDDEN = new Set(["constructor", "__proto__", "prototype", "__defineGetter__", "__defineSetter__", "__lookupGetter__", "__lookupSetter__"]);

/** Jinja spellings of a few dict methods (`{% for k, v in labels.items() %}`), answered with data. */
function dictMethod(obj: Record<string, unknown>, name: string): (() => unknown) | undefined {
  switch (name) {
    case "items":
      return () => Object.entries(obj);
    case "keys":
      return () => Object.keys(obj);
    case "values":
      return () => Object.values(obj);
    default:
      return undefined;
  }
}

function safeMemberLookup(obj: unknown, val: unknown): unknown {
  if (obj === null || obj === undefined || typeof obj === "function") return undefined;
  if (typeof val !== "string" && typeof val !== "number") return undefined;
  const key = String(val);
  if (FORBIDDEN.has(key)) return undefined;
  if (typeof obj === "string") {
    if (key === "length") return obj.length;
    return /^\d+$/.test(key) ? obj[Number(key)] : undefined;
  }
  if (typeof obj !== "object") return undefined;
  if (Array.isArray(obj) && key === "length") return obj.length;
  if (!Object.hasOwn(obj, key)) return Array.isArray(obj) ? undefined : dictMethod(obj as Record<string, unknown>, key);
  const value = (obj as Record<string, unknown>)[key];
  return typeof value === "function" ? undefined : value;
}

const runtime = (nunjucks as unknown as { runtime: Runtime }).runtime;
runtime.memberLookup = safeMemberLookup;
// Names are looked up in the data given to the template (a null-prototype object) and in the
// environment's globals; a name from Object.prototype (`constructor`) is nothing.
const originalContextLookup = runtime.contextOrFrameLookup;
runtime.contextOrFrameLookup = (context, frame, name) => (FORBIDDEN.has(name) ? undefined : originalContextLookup(context, frame, name));

function buildEnvironment(): nunjucks.Environment {
  // No loader: `include`, `import` and `extends` find nothing.
  const env = new nunjucks.Environment(null, { autoescape: false, throwOnUndefined: false, trimBlocks: false });
  env.addFilter("tojson", (value: unknown) => JSON.stringify(value ?? null));
  env.addFilter("ui_url", (value: unknown) => uiUrl(value));
  return env;
}

let uiBase = "http://127.0.0.1:4200";
/** Where the `ui_url` filter points (the server's own URL). */
export function setTemplateUiBase(url: string): void {
  uiBase = url.replace(/\/+$/, "");
}

/** `{{ flow_run|ui_url }}`: the UI page of a flow run, deployment, flow, work pool or queue given as its object. */
function uiUrl(value: unknown): string | null {
  if (!value || typeof value !== "object") return null;
  const object = value as Record<string, unknown>;
  const id = typeof object.id === "string" ? object.id : null;
  if (!id) return null;
  if ("flow_id" in object && "state_type" in object && "deployment_id" in object) return `${uiBase}/runs/flow-run/${id}`;
  if ("flow_id" in object && "entrypoint" in object) return `${uiBase}/deployments/deployment/${id}`;
  if ("base_job_template" in object) return `${uiBase}/work-pools/work-pool/${String(object.name)}`;
  if ("work_pool_name" in object && "priority" in object) return `${uiBase}/work-queues/work-queue/${id}`;
  if ("trigger" in object && "actions" in object) return `${uiBase}/automations/automation/${id}`;
  return `${uiBase}/flows/flow/${id}`;
}

const env = buildEnvironment();

/** Why a template does not compile or render, with where, as Prefect's validation says it. */
export class TemplateError extends Error {
  override name = "TemplateError";
  constructor(
    message: string,
    readonly line: number | null,
    readonly column: number | null,
  ) {
    super(message);
  }
}

function asTemplateError(error: unknown): TemplateError {
  const e = error as { message?: string; lineno?: number; colno?: number };
  // nunjucks prefixes "(unknown path) [Line x, Column y]\n  "; keep its reason, report the place apart.
  const raw = String(e.message ?? error);
  const place = /\[Line (\d+), Column (\d+)\]/.exec(raw);
  const reason = raw.replace(/^\(unknown path\)\s*(\[Line \d+, Column \d+\])?\s*/s, "").replace(/^Template render error:\s*/s, "").replace(/^Error:\s*/, "").trim();
  const line = e.lineno ?? (place ? Number(place[1]) : null);
  const column = e.colno ?? (place ? Number(place[2]) : null);
  return new TemplateError(reason || "invalid template", line, column);
}

/** Compiled templates by source: compiling (to a JS function) costs far more than rendering. */
const compiled = new Map<string, nunjucks.Template>();
const COMPILED_CACHE_SIZE = 1000;

/** Compiles `source` (or takes it from the cache), throwing a TemplateError for bad syntax. */
export function compileTemplate(source: string): nunjucks.Template {
  const cached = compiled.get(source);
  if (cached) return cached;
  let template: nunjucks.Template;
  try {
    template = new nunjucks.Template(source, env, undefined, true);
  } catch (error) {
    throw asTemplateError(error);
  }
  if (compiled.size >= COMPILED_CACHE_SIZE) compiled.delete(compiled.keys().next().value!);
  compiled.set(source, template);
  return template;
}

/**
 * Whether `source` compiles; the error says why not. nunjucks finds an unknown filter only
 * when rendering (Jinja finds it when compiling), so the template is also rendered once with
 * no data, and only that kind of failure counts: others depend on the data.
 */
export function validateTemplate(source: string): TemplateError | null {
  let template: nunjucks.Template;
  try {
    template = compileTemplate(source);
  } catch (error) {
    return error as TemplateError;
  }
  try {
    template.render(Object.create(null) as object);
  } catch (error) {
    const problem = asTemplateError(error);
    if (/filter not found/.test(problem.message)) return problem;
  }
  return null;
}

/** Renders `source` with `data` (plain JSON-like values). Throws TemplateError. */
export function renderTemplate(source: string, data: Record<string, unknown>): string {
  const template = compileTemplate(source);
  const context = Object.assign(Object.create(null) as Record<string, unknown>, data);
  try {
    return template.render(context);
  } catch (error) {
    throw asTemplateError(error);
  }
}

/** Cheap check: does the text contain template syntax at all (plain strings are used as they are). */
export function isTemplated(text: string): boolean {
  return text.includes("{{") || text.includes("{%") || text.includes("{#");
}
