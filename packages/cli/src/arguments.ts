import { Id, STATE_TYPES, StateType } from "@baton/core";
import { InvalidArgumentError } from "commander";

/**
 * Parsers for commander's `argParser`. Throwing `InvalidArgumentError` makes commander print
 * one line naming the option and exit with a usage error (code 2), before any request.
 */

/** `--limit N`: a whole number of at least 1. */
export function parseLimit(value: string): number {
  if (!/^\d+$/.test(value.trim())) throw new InvalidArgumentError("Expected a positive whole number.");
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError("Expected a positive whole number.");
  return n;
}

/** `--port N`: 0 (any free port) to 65535. */
export function parsePort(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isInteger(n) || n > 65535) throw new InvalidArgumentError("Expected a port number from 0 to 65535.");
  return n;
}

/** An object id: a UUID, checked with the same schema the server uses. */
export function parseId(value: string): string {
  const parsed = Id.safeParse(value.trim());
  if (!parsed.success) throw new InvalidArgumentError("Expected a UUID such as 0b7e1c2a-5d3f-4a8e-9c61-2f4d8e6a1b3c.");
  // The server stores ids in lower case.
  return parsed.data.toLowerCase();
}

/** One `--state` value, any case: `completed`, `Completed`, `COMPLETED`. */
export function parseStateType(value: string): StateType {
  const parsed = StateType.safeParse(value.trim().toUpperCase());
  if (!parsed.success) {
    throw new InvalidArgumentError(`Unknown state; expected one of ${STATE_TYPES.map((s) => s.toLowerCase()).join(", ")}.`);
  }
  return parsed.data;
}

/** Repeatable, variadic `--state`: `--state completed failed` or `--state completed --state failed`. */
export function collectStateTypes(value: string, previous: StateType[] | undefined): StateType[] {
  const next = parseStateType(value);
  const all = previous ?? [];
  return all.includes(next) ? all : [...all, next];
}

/** A repeatable string option: `--flow a --flow b`. */
export function collect(value: string, previous: string[] | undefined): string[] {
  return [...(previous ?? []), value];
}
