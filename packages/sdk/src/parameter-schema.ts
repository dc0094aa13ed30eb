import { parameterDeclarations } from "./engine/parameters.js";

/** One parameter of a deployment's `parameter_openapi_schema`, as Prefect writes them. */
export interface ParameterProperty {
  title: string;
  /** The parameter's place in the function's signature. */
  position: number;
  type?: "string" | "number" | "boolean" | "array" | "object";
  default?: unknown;
}

/** A deployment's `parameter_openapi_schema`: the shape Prefect's `ParameterSchema` has. */
export interface ParameterSchema {
  title: "Parameters";
  type: "object";
  properties: Record<string, ParameterProperty>;
  required: string[];
  definitions: Record<string, never>;
}

/**
 * The parameter schema of a flow, for its deployments (`parameter_openapi_schema`), read
 * from the function's source since TypeScript's types are gone at run time:
 *
 * - every parameter is listed by name, with its position;
 * - a parameter with a default is optional; when the default is a literal (a number, a
 *   string, `true`/`false`, `null`, or a JSON array or object) it is recorded with its type,
 *   so the server can check values given for it;
 * - a parameter without a default is required, as in Prefect. To make one optional, give it
 *   a default (`date: string | undefined = undefined`);
 * - `...rest` is an optional list; a destructured parameter is named `arg<position>`, as
 *   flow runs record it.
 *
 * @example
 * import { flow, flowParameterSchema } from "@baton/sdk";
 * const etl = flow(async function etl(date: string, limit = 100) { return [date, limit]; });
 * flowParameterSchema(etl).required; // ["date"]
 * flowParameterSchema(etl).properties.limit; // { title: "limit", position: 1, type: "number", default: 100 }
 */
export function flowParameterSchema(flow: { readonly fn: (...args: never) => unknown }): ParameterSchema {
  const properties: Record<string, ParameterProperty> = {};
  const required: string[] = [];
  parameterDeclarations(flow.fn as (...args: never[]) => unknown).forEach((parameter, position) => {
    const property: ParameterProperty = { title: parameter.name, position };
    if (parameter.rest) {
      property.type = "array";
    } else if (parameter.defaultSource === undefined) {
      required.push(parameter.name);
    } else {
      const literal = literalValue(parameter.defaultSource);
      if (literal !== undefined) {
        const type = jsonType(literal.value);
        if (type !== undefined) property.type = type;
        property.default = literal.value;
      }
    }
    properties[parameter.name] = property;
  });
  return { title: "Parameters", type: "object", properties, required, definitions: {} };
}

/** The value of a default written as a literal; undefined for an expression (`new Date()`, `LIMIT`). */
function literalValue(source: string): { value: unknown } | undefined {
  // Strings in single quotes or backticks, without escapes or interpolation.
  const quoted = /^'([^'\\]*)'$/.exec(source) ?? /^`([^`$\\]*)`$/.exec(source);
  if (quoted) return { value: quoted[1] };
  return parseJson(source);
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

function jsonType(value: unknown): ParameterProperty["type"] {
  if (Array.isArray(value)) return "array";
  switch (typeof value) {
    case "string":
      return "string";
    case "number":
      return "number";
    case "boolean":
      return "boolean";
    case "object":
      return value === null ? undefined : "object";
    default:
      return undefined;
  }
}
