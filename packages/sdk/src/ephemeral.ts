import { mkdirSync } from "node:fs";
import { importModule } from "@baton/core";
import { dirname } from "node:path";
import { BatonClient } from "./client.js";
import { LogShipper } from "./logger.js";
import { currentSettings } from "./settings.js";

/**
 * Where runs report to. With an API URL (`configure({ apiUrl })` or `BATON_API_URL`) that is
 * the server at that URL. Without one the SDK is in ephemeral mode, as Prefect is: it starts
 * an in-process server on the default SQLite database (`$BATON_HOME/baton.db`) when the
 * outermost flow (or a lone task) starts, and closes it when the last of them finishes, so the
 * script's process can exit. Runs recorded this way stay in the database and can be viewed
 * later with `baton server start`.
 */
export interface ApiSession {
  readonly client: BatonClient;
  readonly logs: LogShipper;
  /** Flushes logs; in ephemeral mode, closes the server once no run needs it. */
  release(): Promise<void>;
}

const remoteSessions = new Map<string, ApiSession>();

interface Ephemeral {
  refs: number;
  ready: Promise<{ client: BatonClient; logs: LogShipper; close(): Promise<void> }>;
}
let ephemeral: Ephemeral | undefined;
/** A close in progress; a new session waits for it rather than racing it. */
let closing: Promise<void> = Promise.resolve();

export async function openSession(): Promise<ApiSession> {
  const { apiUrl } = currentSettings();
  if (apiUrl !== undefined) return remoteSession(apiUrl);
  return ephemeralSession();
}

function remoteSession(apiUrl: string): ApiSession {
  let session = remoteSessions.get(apiUrl);
  if (session === undefined) {
    const client = new BatonClient({ apiUrl });
    const logs = new LogShipper(client);
    session = { client, logs, release: () => logs.flush() };
    remoteSessions.set(apiUrl, session);
  }
  return session;
}

async function ephemeralSession(): Promise<ApiSession> {
  await closing;
  if (ephemeral === undefined) {
    ephemeral = { refs: 0, ready: startEphemeralServer() };
    // A failed start must not be reused by the next run.
    const current = ephemeral;
    current.ready.catch(() => {
      if (ephemeral === current) ephemeral = undefined;
    });
  }
  const current = ephemeral;
  current.refs++;
  let server: Awaited<Ephemeral["ready"]>;
  try {
    server = await current.ready;
  } catch (error) {
    current.refs--;
    throw error;
  }
  let released = false;
  return {
    client: server.client,
    logs: server.logs,
    release: async () => {
      if (released) return;
      released = true;
      await server.logs.flush();
      current.refs--;
      if (current.refs === 0 && ephemeral === current) {
        ephemeral = undefined;
        closing = server.close().catch((error: unknown) => {
          process.stderr.write(`baton: error closing the temporary server: ${String(error)}\n`);
        });
        await closing;
      }
    },
  };
}

async function startEphemeralServer() {
  // Loaded only here, so that a script talking to a remote server never loads the server code.
  const { startServer, loadConfig } = await importModule<typeof import("@baton/server")>(import.meta.resolve("@baton/server"));
  const config = loadConfig();
  const sqlitePath = /^(?:sqlite|file):(.+)$/.exec(config.databaseUrl)?.[1];
  if (sqlitePath !== undefined && sqlitePath !== ":memory:") {
    mkdirSync(dirname(sqlitePath), { recursive: true });
  }
  // The background services belong to a long-running server; a script's temporary one does without.
  const server = await startServer({ config: { ...config, port: 0, host: "127.0.0.1", logLevel: "silent" }, services: false });
  const client = new BatonClient({ apiUrl: server.apiUrl });
  if (currentSettings().consoleLogs) {
    process.stderr.write(`baton: started a temporary server at ${server.url} (database ${config.databaseUrl})\n`);
  }
  return { client, logs: new LogShipper(client), close: () => server.close() };
}
