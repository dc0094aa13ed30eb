import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, type RunningServer } from "@baton/server";
import { BatonClient } from "@baton/sdk";

/** The built CLI; run `npx tsc -b` first. */
export const BIN = fileURLToPath(new URL("../dist/bin.js", import.meta.url));

export interface TestServer {
  server: RunningServer;
  client: BatonClient;
  apiUrl: string;
  close(): Promise<void>;
}

/** A real server on a free port with its own SQLite file, removed on close. */
export async function startTestServer(): Promise<TestServer> {
  const dir = mkdtempSync(join(tmpdir(), "baton-cli-test-"));
  const server = await startServer({
    config: { host: "127.0.0.1", port: 0, databaseUrl: `sqlite:${join(dir, "baton.db")}`, logLevel: "silent" },
  });
  return {
    server,
    client: new BatonClient({ apiUrl: server.apiUrl }),
    apiUrl: server.apiUrl,
    async close() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment a child CLI sees: the caller's variables without any BATON_* setting of
 * the machine running the tests, plus `env`.
 */
export function cliEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("BATON_")));
  return { ...clean, TZ: "UTC", ...env };
}

export interface RunningCli {
  child: ChildProcess;
  result: Promise<CliResult>;
  /** Resolves once stdout contains `text`; rejects if the process exits first. */
  waitForStdout(text: string): Promise<void>;
  stdout(): string;
}

/** Starts `node dist/bin.js ...args` as a child process; `input`, if given, is its standard input. */
export function spawnCli(args: string[], env: Record<string, string> = {}, input?: string): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], { env: cliEnv(env), stdio: ["pipe", "pipe", "pipe"] });
  // No input is an empty one: the child reads end-of-file at once, as from /dev/null. A child
  // that exits without reading makes the write fail (EPIPE): not the test's error.
  child.stdin.on("error", () => undefined);
  child.stdin.end(input ?? "");
  let stdout = "";
  let stderr = "";
  const waiters: Array<{ text: string; resolve: () => void; reject: (e: Error) => void }> = [];
  child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
    stdout += chunk;
    for (const w of waiters.splice(0)) {
      if (stdout.includes(w.text)) w.resolve();
      else waiters.push(w);
    }
  });
  child.stderr.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const result = new Promise<CliResult>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) => {
      for (const w of waiters.splice(0)) {
        w.reject(new Error(`exited (${code ?? signal}) before printing ${JSON.stringify(w.text)}; stdout: ${stdout}; stderr: ${stderr}`));
      }
      resolve({ code, signal, stdout, stderr });
    });
  });
  return {
    child,
    result,
    stdout: () => stdout,
    waitForStdout: (text) =>
      stdout.includes(text) ? Promise.resolve() : new Promise((resolve, reject) => waiters.push({ text, resolve, reject })),
  };
}

/** Runs the CLI to completion. */
export function runCli(args: string[], env: Record<string, string> = {}, input?: string): Promise<CliResult> {
  return spawnCli(args, env, input).result;
}

/** A port nothing listens on right now. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no port");
  return address.port;
}

/** The non-empty lines of a command's output. */
export function lines(text: string): string[] {
  return text.split("\n").filter((line) => line.trim() !== "");
}
