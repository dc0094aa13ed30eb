import { ApiError, ConflictError, type JsonValue, type Variable } from "@baton/core";
import type { BatonClient } from "./client.js";
import { withClient } from "./session.js";

export interface SetVariableOptions {
  /** Replace the value (and tags, when given) of a variable that already exists; without it that is an error. */
  overwrite?: boolean;
  tags?: string[];
}

function byName(name: string): string {
  return `/variables/name/${encodeURIComponent(name)}`;
}

async function readByName(client: BatonClient, name: string): Promise<Variable | undefined> {
  try {
    return await client.request<Variable>("GET", byName(name));
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return undefined;
    throw error;
  }
}

/**
 * The variable's value, or `defaultValue` (undefined unless given) when there is no variable
 * of that name.
 *
 * @example
 * import { variables } from "@baton/sdk";
 * const bucket = await variables.get("bucket", "s3://default");
 */
async function get<T = JsonValue>(name: string): Promise<T | undefined>;
async function get<T = JsonValue>(name: string, defaultValue: T): Promise<T>;
async function get<T = JsonValue>(name: string, defaultValue?: T): Promise<T | undefined> {
  const variable = await withClient((client) => readByName(client, name));
  return variable === undefined ? defaultValue : (variable.value as T);
}

/**
 * Creates the variable, or with `overwrite: true` replaces the value of an existing one
 * (and its tags, when given). Setting an existing name without `overwrite` throws a
 * ConflictError. Returns the variable as stored.
 *
 * @example
 * await variables.set("batch_size", 500, { overwrite: true, tags: ["etl"] });
 */
async function set(name: string, value: JsonValue, options: SetVariableOptions = {}): Promise<Variable> {
  return withClient(async (client) => {
    const existing = await readByName(client, name);
    if (existing) {
      if (!options.overwrite) throw new ConflictError(`Variable '${name}' already exists; pass { overwrite: true } to replace its value`);
      await client.request("PATCH", byName(name), { value, ...(options.tags ? { tags: options.tags } : {}) });
      return client.request<Variable>("GET", byName(name));
    }
    return client.request<Variable>("POST", "/variables/", { name, value, tags: options.tags ?? [] });
  });
}

/**
 * Deletes the variable; true if it existed.
 *
 * @example
 * await variables.unset("batch_size");
 */
async function unset(name: string): Promise<boolean> {
  return withClient(async (client) => {
    try {
      await client.request("DELETE", byName(name));
      return true;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) return false;
      throw error;
    }
  });
}

/** Prefect's `Variable.get/set/unset`, for flows, tasks and scripts. */
export const variables = { get, set, unset };
