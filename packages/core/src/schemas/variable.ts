import { z } from "zod";
import { Id } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";
import { MAX_FILTER_LIMIT, MAX_FILTER_VALUES } from "./filters.js";

/** Longest variable name Prefect accepts. */
export const MAX_VARIABLE_NAME_LENGTH = 255;
/** Largest variable value, in bytes of its compact JSON, that Prefect accepts (null is always allowed). */
export const MAX_VARIABLE_VALUE_LENGTH = 5000;

/** Any JSON value: string, number, boolean, null, array or object. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

/** A variable name as Prefect allows it: lowercase letters, numbers and underscores, at most 255 characters. */
export const VariableName = lazySchema(() =>
  z
    .string()
    .min(1, "must not be empty")
    .max(MAX_VARIABLE_NAME_LENGTH, `must be at most ${MAX_VARIABLE_NAME_LENGTH} characters`)
    .regex(/^[a-z0-9_]+$/, "must only contain lowercase letters, numbers, and underscores"));

/** The size Prefect measures a value by: the bytes of its compact JSON. */
export function variableValueSize(value: unknown): number {
  return new TextEncoder().encode(JSON.stringify(value)).length;
}

/** A variable's value: any JSON, required (null is a value), at most MAX_VARIABLE_VALUE_LENGTH bytes as JSON. */
const VariableValue = lazySchema(() =>
  z
    .custom<JsonValue>((value) => value !== undefined, { message: "Field required" })
    .refine((value) => value === null || variableValueSize(value) <= MAX_VARIABLE_VALUE_LENGTH, {
      message: `must be at most ${MAX_VARIABLE_VALUE_LENGTH} bytes as JSON`,
    }));

const VariableTags = lazySchema(() => z.array(z.string().max(500)).max(200));

export const Variable = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    value: z.custom<JsonValue>(() => true),
    tags: z.array(z.string()),
  }));
export type Variable = z.infer<typeof Variable>;

export const VariableCreate = lazySchema(() =>
  z.strictObject({
    name: VariableName,
    value: VariableValue,
    tags: VariableTags.nullish().transform((tags) => tags ?? []),
  }));
export type VariableCreate = z.infer<typeof VariableCreate>;

/** Every field optional; `value: null` sets the value to null, an absent `value` leaves it. */
export const VariableUpdate = lazySchema(() =>
  z.strictObject({
    name: VariableName.nullish(),
    value: VariableValue.optional(),
    tags: VariableTags.nullish(),
  }));
export type VariableUpdate = z.infer<typeof VariableUpdate>;

const Operator = lazySchema(() => z.enum(["and_", "or_"]).default("and_"));
const strings = lazySchema(() => z.array(z.string()).max(MAX_FILTER_VALUES).nullish());

export const VariableFilter = lazySchema(() =>
  z.strictObject({
    operator: Operator,
    id: z.strictObject({ any_: z.array(Id).max(MAX_FILTER_VALUES).nullish() }).nullish(),
    name: z.strictObject({ any_: strings, like_: z.string().nullish() }).nullish(),
    tags: z.strictObject({ operator: Operator, all_: strings, is_null_: z.boolean().nullish() }).nullish(),
  }));
export type VariableFilter = z.infer<typeof VariableFilter>;

export const VariableSort = lazySchema(() => z.enum(["CREATED_DESC", "UPDATED_DESC", "NAME_DESC", "NAME_ASC"]));
export type VariableSort = z.infer<typeof VariableSort>;

export const VariableFilterBody = lazySchema(() =>
  z.strictObject({
    variables: VariableFilter.nullish(),
    sort: VariableSort.default("NAME_ASC"),
    limit: z.number().int().min(0).max(MAX_FILTER_LIMIT).nullish(),
    offset: z.number().int().min(0).max(2147483647).default(0),
  }));
export type VariableFilterBody = z.infer<typeof VariableFilterBody>;

export const VariableCountBody = lazySchema(() => z.strictObject({ variables: VariableFilter.nullish() }));
export type VariableCountBody = z.infer<typeof VariableCountBody>;

