import { ConflictError, InvalidInputError } from "@baton/core";
// Ajv ships CommonJS; its 2020-12 class is a named export there.
import { Ajv2020, type ErrorObject, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";

/**
 * Checks flow run parameters against a deployment's `parameter_openapi_schema`, the JSON
 * Schema Prefect's clients generate from a flow's signature (pydantic, draft 2020-12 or the
 * older `definitions` style). As Prefect's validator does, the schema is first made to say
 * what the client meant: an optional parameter without a default may be null, a list of
 * `items` is a tuple. Unknown keywords such as `position` are ignored.
 */

const ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
addFormats.default(ajv);

/** Compiled validators by schema text; deployments share few distinct schemas. */
const compiled = new Map<string, ValidateFunction>();
const MAX_CACHED = 200;

function validatorFor(schema: Record<string, unknown>): ValidateFunction {
  const key = JSON.stringify(schema);
  let validate = compiled.get(key);
  if (!validate) {
    validate = ajv.compile(prepareSchema(schema));
    if (compiled.size >= MAX_CACHED) compiled.delete(compiled.keys().next().value!);
    compiled.set(key, validate);
  }
  return validate;
}

/** Why the schema cannot check parameters, or undefined when it can. */
export function parameterSchemaProblem(schema: Record<string, unknown>): string | undefined {
  try {
    validatorFor(schema);
    return undefined;
  } catch (error) {
    return `not a usable JSON schema: ${(error as Error).message}`;
  }
}

/**
 * Throws a 422 naming the first bad parameter (`body.parameters.<name>`, deeper for nested
 * values). `ignoreRequired` checks only the values present, for a deployment's defaults.
 */
export function checkParameters(
  schema: Record<string, unknown>,
  parameters: Record<string, unknown>,
  options: { field?: string; ignoreRequired?: boolean } = {},
): void {
  const field = options.field ?? "body.parameters";
  let validate: ValidateFunction;
  try {
    validate = validatorFor(options.ignoreRequired ? withoutRequired(schema) : schema);
  } catch (error) {
    throw new ConflictError(`The deployment's parameter schema cannot be used to check parameters: ${(error as Error).message}`);
  }
  if (validate(parameters)) return;
  const errors = validate.errors ?? [];
  // A missing parameter is the most useful thing to report first, then the first bad value.
  const error = errors.find((e) => e.keyword === "required" && e.instancePath === "") ?? errors[0];
  if (!error) throw new InvalidInputError(field, "does not match the deployment's parameter schema");
  throw new InvalidInputError(errorPath(field, error), errorMessage(error));
}

function errorPath(field: string, error: ErrorObject): string {
  const parts = error.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"));
  if (error.keyword === "required") parts.push(String((error.params as { missingProperty: string }).missingProperty));
  return [field, ...parts].join(".");
}

function errorMessage(error: ErrorObject): string {
  if (error.keyword === "required") return "required parameter is missing";
  if (error.keyword === "additionalProperties") return `${error.message ?? "is not allowed"}: '${(error.params as { additionalProperty: string }).additionalProperty}'`;
  return error.message ?? "is invalid";
}

type JsonSchema = Record<string, unknown>;

function isObject(value: unknown): value is JsonSchema {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Prefect's `preprocess_schema`: the fixes pydantic v1 schemas need, on a copy. */
function prepareSchema(schema: JsonSchema): JsonSchema {
  const copy = structuredClone(schema);
  fixProperties(copy);
  for (const definitions of [copy.definitions, copy.$defs]) {
    if (!isObject(definitions)) continue;
    for (const [name, definition] of Object.entries(definitions)) {
      if (!isObject(definition)) continue;
      fixProperties(definition);
      // A block parameter may be sent as a reference to a stored block document.
      if ("block_type_slug" in definition) {
        definitions[name] = {
          oneOf: [definition, { type: "object", properties: { $ref: { type: "string", format: "uuid" } }, required: ["$ref"] }],
        };
      }
    }
  }
  return copy;
}

function fixProperties(schema: JsonSchema): void {
  const properties = schema.properties;
  if (!isObject(properties)) return;
  const required = Array.isArray(schema.required) ? (schema.required as unknown[]) : [];
  for (const [key, property] of Object.entries(properties)) {
    if (!isObject(property)) continue;
    // An optional parameter without a default may be None in Python, null here.
    if (!required.includes(key) && "type" in property && property.type !== "null" && !("default" in property)) {
      property.anyOf = [{ type: property.type }, { type: "null" }];
      delete property.type;
    }
    if (Array.isArray(property.items) && !property.prefixItems) {
      property.prefixItems = property.items;
      delete property.items;
    }
    fixProperties(property);
  }
}

function withoutRequired(value: unknown): JsonSchema {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (!isObject(v)) return v;
    // The keyword holds a list of names; a parameter called "required" holds a schema.
    return Object.fromEntries(
      Object.entries(v)
        .filter(([k, x]) => !(k === "required" && Array.isArray(x)))
        .map(([k, x]) => [k, strip(x)]),
    );
  };
  return strip(value) as JsonSchema;
}
