import { useState, type FormEvent } from "react";
import { ErrorBox } from "./ui";

/** The part of a JSON schema (as `parameter_openapi_schema` holds it) the form understands. */
export interface JsonSchema {
  type?: string | string[];
  title?: string;
  description?: string;
  default?: unknown;
  enum?: unknown[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  $ref?: string;
  anyOf?: JsonSchema[];
  allOf?: JsonSchema[];
  items?: JsonSchema;
  definitions?: Record<string, JsonSchema>;
  $defs?: Record<string, JsonSchema>;
  position?: number;
}

type Kind = "string" | "integer" | "number" | "boolean" | "enum" | "json";

function resolve(schema: JsonSchema, root: JsonSchema): JsonSchema {
  let current = schema;
  for (let i = 0; i < 10 && current.$ref; i++) {
    const name = current.$ref.split("/").pop() ?? "";
    const target = root.definitions?.[name] ?? root.$defs?.[name];
    if (!target) break;
    current = { ...target, ...current, $ref: undefined };
  }
  if (current.allOf?.length === 1 && current.allOf[0]) current = { ...resolve(current.allOf[0], root), ...current, allOf: undefined };
  return current;
}

function kindOf(schema: JsonSchema): Kind {
  if (schema.enum) return "enum";
  const types = Array.isArray(schema.type) ? schema.type.filter((t) => t !== "null") : schema.type ? [schema.type] : [];
  const nullable = schema.anyOf?.filter((s) => s.type !== "null");
  if (!types.length && nullable?.length === 1 && nullable[0]) return kindOf(nullable[0]);
  if (types.length === 1 && ["string", "integer", "number", "boolean"].includes(types[0]!)) return types[0] as Kind;
  return "json";
}

interface Field {
  name: string;
  schema: JsonSchema;
  kind: Kind;
  required: boolean;
}

function fieldsOf(schema: JsonSchema): Field[] {
  const properties = Object.entries(schema.properties ?? {});
  properties.sort(([, a], [, b]) => (a.position ?? 0) - (b.position ?? 0));
  return properties.map(([name, property]) => {
    const resolved = resolve(property, schema);
    return { name, schema: resolved, kind: kindOf(resolved), required: schema.required?.includes(name) ?? false };
  });
}

/** Text of a value as its input holds it. */
function toText(kind: Kind, value: unknown): string {
  if (value === undefined || value === null) return "";
  if (kind === "json") return JSON.stringify(value, null, 2);
  return String(value);
}

/**
 * A form built from a JSON schema: text, number, checkbox and select inputs for simple
 * properties, JSON for the rest. Values start from `initial` (e.g. a deployment's parameters),
 * then the schema's defaults. The server checks the result again and names a bad field.
 */
export function SchemaForm({ schema, initial, submitLabel, onSubmit, busy, error }: { schema: JsonSchema; initial: Record<string, unknown>; submitLabel: string; onSubmit: (values: Record<string, unknown>) => void; busy?: boolean; error?: Error | null }) {
  const fields = fieldsOf(schema);
  const [texts, setTexts] = useState<Record<string, string>>(() =>
    Object.fromEntries(fields.map((f) => [f.name, toText(f.kind, f.name in initial ? initial[f.name] : f.schema.default)])),
  );
  const [checks, setChecks] = useState<Record<string, boolean>>(() =>
    Object.fromEntries(fields.filter((f) => f.kind === "boolean").map((f) => [f.name, Boolean(f.name in initial ? initial[f.name] : f.schema.default)])),
  );
  const [problem, setProblem] = useState<string>();

  const submit = (event: FormEvent) => {
    event.preventDefault();
    const values: Record<string, unknown> = {};
    for (const field of fields) {
      if (field.kind === "boolean") {
        values[field.name] = checks[field.name] ?? false;
        continue;
      }
      const text = (texts[field.name] ?? "").trim();
      if (text === "") {
        if (field.required) return setProblem(`${field.name} is required`);
        continue;
      }
      if (field.kind === "integer" || field.kind === "number") {
        const n = Number(text);
        if (Number.isNaN(n) || (field.kind === "integer" && !Number.isInteger(n))) return setProblem(`${field.name} must be ${field.kind === "integer" ? "an integer" : "a number"}`);
        values[field.name] = n;
      } else if (field.kind === "json") {
        try {
          values[field.name] = JSON.parse(text);
        } catch {
          return setProblem(`${field.name} is not valid JSON`);
        }
      } else if (field.kind === "enum") {
        values[field.name] = field.schema.enum?.find((option) => String(option) === text) ?? text;
      } else {
        values[field.name] = text;
      }
    }
    setProblem(undefined);
    onSubmit(values);
  };

  return (
    <form className="form" onSubmit={submit} aria-label="Parameters">
      {fields.length === 0 && <p className="muted">No parameters.</p>}
      {fields.map((field) => {
        const label = (
          <span>
            {field.schema.title ?? field.name}
            {field.required && <span aria-hidden> *</span>}
          </span>
        );
        const hint = field.schema.description && <span className="hint">{field.schema.description}</span>;
        const id = `param-${field.name}`;
        const text = texts[field.name] ?? "";
        const setText = (value: string) => setTexts((t) => ({ ...t, [field.name]: value }));
        switch (field.kind) {
          case "boolean":
            return (
              <label key={field.name} className="check">
                <input type="checkbox" name={field.name} checked={checks[field.name] ?? false} onChange={(e) => setChecks((c) => ({ ...c, [field.name]: e.target.checked }))} /> {label} {hint}
              </label>
            );
          case "enum":
            return (
              <label key={field.name} htmlFor={id}>
                {label}
                <select id={id} name={field.name} value={text} onChange={(e) => setText(e.target.value)}>
                  {!field.required && <option value="">—</option>}
                  {field.schema.enum?.map((option) => (
                    <option key={String(option)} value={String(option)}>
                      {String(option)}
                    </option>
                  ))}
                </select>
                {hint}
              </label>
            );
          case "json":
            return (
              <label key={field.name} htmlFor={id}>
                {label} <span className="hint">JSON</span>
                <textarea id={id} name={field.name} value={text} onChange={(e) => setText(e.target.value)} spellCheck={false} />
                {hint}
              </label>
            );
          default:
            return (
              <label key={field.name} htmlFor={id}>
                {label}
                <input id={id} name={field.name} type={field.kind === "string" ? "text" : "number"} step={field.kind === "number" ? "any" : "1"} value={text} required={field.required} onChange={(e) => setText(e.target.value)} />
                {hint}
              </label>
            );
        }
      })}
      {problem && <p className="error" role="alert">{problem}</p>}
      {error && <ErrorBox error={error} />}
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Working…" : submitLabel}
        </button>
      </div>
    </form>
  );
}

/** A schema for free-form parameters, when a deployment has none: one JSON field per parameter. */
export function schemaFromValues(values: Record<string, unknown>): JsonSchema {
  return { type: "object", properties: Object.fromEntries(Object.keys(values).map((k) => [k, { title: k }])) };
}
