import { BatonClient } from "@baton/sdk";
import { CliError } from "./errors.js";

/** Where the CLI talks to when `BATON_API_URL` is unset. */
export const DEFAULT_API_URL = "http://127.0.0.1:4200/api";

/** Anything text can be written to: `process.stdout`, or a buffer in a test. */
export interface Output {
  write(text: string): unknown;
}

/**
 * What a command needs from the world, injected so that the whole program can run
 * in-process (tests) as well as from `bin.ts`.
 */
export interface CliContext {
  env: NodeJS.ProcessEnv;
  stdout: Output;
  stderr: Output;
  /** Where `--secret-stdin` and the like read from (`process.stdin` unless a test gives one). */
  stdin?: NodeJS.ReadableStream;
  /** A client for the server at `BATON_API_URL`; throws a one-line error for a malformed URL. */
  client(): BatonClient;
  /** Resolves with the signal's name when the process is asked to stop (SIGINT, SIGTERM). */
  waitForShutdown(): Promise<string>;
  /** Pause between polls of `flow-run logs --follow`. */
  pollIntervalMs: number;
}

/** The API URL from `BATON_API_URL`, checked to be an http(s) URL. */
export function apiUrlFromEnv(env: NodeJS.ProcessEnv): string {
  const raw = env["BATON_API_URL"];
  if (raw === undefined || raw.trim() === "") return DEFAULT_API_URL;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw new CliError(`Invalid setting BATON_API_URL: '${raw}' is not a URL (expected e.g. ${DEFAULT_API_URL})`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new CliError(`Invalid setting BATON_API_URL: '${raw}' must start with http:// or https://`);
  }
  return raw.trim().replace(/\/+$/, "");
}

export function createContext(overrides: Partial<CliContext> = {}): CliContext {
  const env = overrides.env ?? process.env;
  let client: BatonClient | undefined;
  return {
    env,
    stdout: process.stdout,
    stderr: process.stderr,
    client: () => (client ??= new BatonClient({ apiUrl: apiUrlFromEnv(env) })),
    waitForShutdown: waitForSignal,
    pollIntervalMs: 1000,
    ...overrides,
  };
}

function waitForSignal(): Promise<string> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      // A second Ctrl+C while shutting down means "now": skip the graceful close.
      process.once("SIGINT", () => process.exit(130));
      process.once("SIGTERM", () => process.exit(143));
      resolve(signal);
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  });
}
