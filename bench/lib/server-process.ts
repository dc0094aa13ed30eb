import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

const BENCH_DIR = dirname(dirname(fileURLToPath(import.meta.url)));
const REPO_ROOT = dirname(BENCH_DIR);

export interface ServerChild {
  url: string;
  pid: number;
  /** SIGTERM, then wait for a clean exit (so a CPU profile gets written); SIGKILL after 10 s. */
  stop(): Promise<void>;
}

export type Launcher = "serve" | "cli";

export interface ServerChildOptions {
  /** `serve`: bench/serve.mjs; `cli`: `baton server start --port 0` from packages/cli/dist. */
  launcher: Launcher;
  env: Record<string, string>;
  /** Extra node flags, e.g. `--cpu-prof`. */
  nodeArgs: string[];
}

/**
 * Starts the server in its own node process, so that it has its own event loop (and can use a
 * core of its own) as in production, and waits for the URL it prints.
 */
export async function startServerChild(options: ServerChildOptions): Promise<ServerChild> {
  const entry =
    options.launcher === "cli"
      ? [join(REPO_ROOT, "packages/cli/dist/bin.js"), "server", "start", "--host", "127.0.0.1", "--port", "0"]
      : [join(BENCH_DIR, "serve.mjs")];
  const child = spawn(process.execPath, [...options.nodeArgs, ...entry], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...options.env, BATON_BENCH_WATCH_STDIN: "1" },
    // Its own process group, so that Ctrl+C reaches only the benchmark, which then finishes the
    // runs in flight before stopping the server. serve.mjs exits when its stdin closes, so it
    // does not outlive a benchmark that is killed outright.
    detached: true,
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr!.setEncoding("utf8");
  child.stderr!.on("data", (chunk: string) => {
    stderr += chunk;
    // The server is started with logging silenced, so anything here is worth seeing.
    process.stderr.write(`[server] ${chunk}`);
  });
  const url = await readUrl(child, () => stderr);
  // Keep draining stdout so that a chatty server can never block on a full pipe.
  child.stdout!.resume();
  return {
    url,
    pid: child.pid!,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, "exit");
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

async function readUrl(child: ChildProcess, stderr: () => string): Promise<string> {
  const lines = createInterface({ input: child.stdout! });
  const exit = once(child, "exit").then(([code, signal]) => {
    throw new Error(`server child exited (${String(code ?? signal)}) before listening:\n${stderr()}`);
  });
  const first = (async () => {
    for await (const line of lines) {
      // serve.mjs prints {"url": ...}; the CLI prints "Baton server running at <url>".
      const url = line.startsWith("{") ? (JSON.parse(line) as { url?: string }).url : /running at (\S+)/.exec(line)?.[1];
      if (url) return url;
    }
    throw new Error(`server child closed its output without a URL:\n${stderr()}`);
  })();
  try {
    return await Promise.race([first, exit]);
  } finally {
    exit.catch(() => undefined);
  }
}
