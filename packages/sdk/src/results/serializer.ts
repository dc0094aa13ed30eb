import type { State } from "@baton/core";
import { MissingResultError } from "../errors.js";

/**
 * How a run's result travels in `state.data` of its COMPLETED state:
 *
 * - `{ "type": "json", "value": <the result> }` when the result survives a JSON round trip
 *   unchanged (null, booleans, finite numbers, strings, arrays and plain objects of those);
 *   a function that returns `undefined` is stored as `{ "type": "json" }` with no `value`.
 * - `null`, with `state_details.untrackable_result: true`, when it does not (class instances,
 *   Dates, Maps, bigints, functions, cycles, NaN, results over 5 MB, ...). The caller in the
 *   same process still gets the live value; only the server (and the cache) cannot have it.
 *
 * A FAILED state carries `{ "type": "error", "name", "message", "stack" }` describing the error.
 */
export type ResultData = { type: "json"; value?: unknown };
export type ErrorData = { type: "error"; name: string; message: string; stack?: string };

/** Results larger than this (as JSON) are not sent to the server. */
export const MAX_RESULT_BYTES = 5 * 1024 * 1024;

export interface SerializedResult {
  data: ResultData | null;
  untrackable: boolean;
}

export function serializeResult(value: unknown): SerializedResult {
  if (value === undefined) return { data: { type: "json" }, untrackable: false };
  if (!isPlainJson(value, new Set())) return { data: null, untrackable: true };
  const size = Buffer.byteLength(JSON.stringify(value));
  if (size > MAX_RESULT_BYTES) return { data: null, untrackable: true };
  return { data: { type: "json", value }, untrackable: false };
}

/** True when `state.data` holds a result `resultFromState` can read. */
export function hasReadableResult(state: Pick<State, "data"> | null | undefined): boolean {
  const data = state?.data as { type?: unknown } | null | undefined;
  return data != null && typeof data === "object" && data.type === "json";
}

/** The result recorded in a COMPLETED state (for cached and already-completed runs). */
export function resultFromState(state: Pick<State, "id" | "data" | "state_details">): unknown {
  const data = state.data as { type?: unknown; value?: unknown } | null | undefined;
  if (data != null && typeof data === "object" && data.type === "json") return data.value;
  if (state.state_details.untrackable_result) {
    throw new MissingResultError(state.id, "the result could not be serialised as JSON when it was recorded");
  }
  throw new MissingResultError(state.id, `state data has an unknown shape (${JSON.stringify(data)?.slice(0, 200)})`);
}

export function errorData(error: unknown): ErrorData {
  if (error instanceof Error) {
    return { type: "error", name: error.name, message: error.message, ...(error.stack ? { stack: error.stack } : {}) };
  }
  return { type: "error", name: typeof error, message: String(error) };
}

/** "Error: boom", or the value itself for a non-Error throw. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** A value that `JSON.parse(JSON.stringify(v))` gives back equal (object keys holding `undefined` aside). */
export function isPlainJson(value: unknown, ancestors: Set<object>): boolean {
  switch (typeof value) {
    case "string":
    case "boolean":
      return true;
    case "number":
      return Number.isFinite(value);
    case "object": {
      if (value === null) return true;
      if (ancestors.has(value)) return false;
      ancestors.add(value);
      try {
        if (Array.isArray(value)) {
          // Holes and undefined entries would come back as null.
          for (let i = 0; i < value.length; i++) {
            if (!(i in value) || value[i] === undefined || !isPlainJson(value[i], ancestors)) return false;
          }
          return true;
        }
        const proto: unknown = Object.getPrototypeOf(value);
        if (proto !== Object.prototype && proto !== null) return false;
        if (Object.getOwnPropertySymbols(value).length > 0) return false;
        for (const v of Object.values(value)) {
          if (v !== undefined && !isPlainJson(v, ancestors)) return false;
        }
        return true;
      } finally {
        ancestors.delete(value);
      }
    }
    default:
      return false;
  }
}
