import { ApiError, BatonError, ServerUnreachableError } from "@baton/core";
import type { CliContext } from "./context.js";

/** Exit codes: 0 success, 1 a failure at run time, 2 a command called the wrong way. */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** A command called the wrong way (bad argument, bad combination): exit code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** A failure reported as one line with exit code 1. */
export class CliError extends Error {
  override name = "CliError";
}

/** The server answered 404 for an object the user named. */
export class NotFoundError extends CliError {
  override name = "NotFoundError";
  constructor(
    readonly objectType: string,
    readonly objectId: string,
  ) {
    super(`${objectType} ${objectId} not found`);
  }
}

/**
 * Turns a 404 from the server into a `NotFoundError` naming the object, e.g.
 * "Flow run 0b7e… not found"; other errors pass through.
 */
export async function orNotFound<T>(promise: Promise<T>, objectType: string, objectId: string): Promise<T> {
  try {
    return await promise;
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) throw new NotFoundError(objectType, objectId);
    throw error;
  }
}

export interface ErrorReport {
  exitCode: number;
  /** One line for stderr, or undefined when commander has already written it. */
  message: string | undefined;
}

/**
 * Maps anything a command throws to an exit code and one line for stderr. Expected failures
 * (server down, 404, bad setting) never show a stack trace; `BATON_DEBUG=1` adds one for
 * unexpected errors.
 */
export function reportError(error: unknown, debug = false): ErrorReport {
  if (isCommanderError(error)) {
    // Commander has already written its message (or the help text) through outputError.
    return { exitCode: error.exitCode === 0 ? EXIT_OK : EXIT_USAGE, message: undefined };
  }
  if (error instanceof UsageError) return { exitCode: EXIT_USAGE, message: `error: ${error.message}` };
  if (
    error instanceof CliError ||
    error instanceof ServerUnreachableError ||
    error instanceof ApiError ||
    error instanceof BatonError ||
    // @baton/server is loaded lazily (only `server` and `config` need it), so match by name.
    (error instanceof Error && error.name === "ConfigError")
  ) {
    return { exitCode: EXIT_FAILURE, message: `error: ${oneLine(error.message)}` };
  }
  if (error instanceof Error) {
    const code = (error as NodeJS.ErrnoException).code;
    const text = code !== undefined && !error.message.includes(code) ? `${error.message} (${code})` : error.message;
    return { exitCode: EXIT_FAILURE, message: `error: ${oneLine(text)}${debug && error.stack ? `\n${error.stack}` : ""}` };
  }
  return { exitCode: EXIT_FAILURE, message: `error: ${oneLine(String(error))}` };
}

/**
 * Commander's errors, matched by their shape (a `commander.*` code and an exit code) rather
 * than by class: a run process (`flow-run execute`) reports errors here without loading commander.
 */
function isCommanderError(error: unknown): error is Error & { code: string; exitCode: number } {
  if (!(error instanceof Error)) return false;
  const { code, exitCode } = error as Error & { code?: unknown; exitCode?: unknown };
  return typeof code === "string" && code.startsWith("commander.") && typeof exitCode === "number";
}

/** Collapses a multi-line message (a server's detail, commander's suggestion) to one line. */
export function oneLine(text: string): string {
  return text.trim().replace(/\s*\n\s*/g, " ");
}

/**
 * Runs a command and returns its exit code: 0 when it resolves, otherwise the code
 * `reportError` gives, its one line written to the context's stderr. Nothing is thrown.
 */
export async function exitCodeOf(ctx: Pick<CliContext, "env" | "stderr">, command: () => Promise<unknown>): Promise<number> {
  try {
    await command();
    return EXIT_OK;
  } catch (error) {
    const report = reportError(error, ctx.env["BATON_DEBUG"] === "1");
    if (report.message !== undefined) ctx.stderr.write(`${report.message}\n`);
    return report.exitCode;
  }
}
