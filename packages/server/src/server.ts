import type { FastifyInstance } from "fastify";
import { loadConfig, type ServerConfig } from "./config.js";
import { openDatabase, type Database } from "./db/database.js";
import { API_PREFIX, buildApp } from "./app.js";
import { configureOrchestration } from "./orchestration/settings.js";
import { createServices, systemClock, type Clock, type LoopService } from "./services/index.js";
import { createBus } from "./messaging/index.js";
import { EventStream } from "./events/event-stream.js";
import { startEventPersister } from "./events/persister.js";
import { injectCaller } from "./automations/api-caller.js";

export interface StartServerOptions {
  /** Overrides on top of `loadConfig(process.env)`; `port: 0` picks a free port. */
  config?: Partial<ServerConfig>;
  /** Run the background services enabled in the config alongside the API (default true). */
  services?: boolean;
  /** The services' clock (tests move it instead of sleeping). */
  clock?: Clock;
}

export interface RunningServer {
  /** e.g. `http://127.0.0.1:4200` */
  url: string;
  /** e.g. `http://127.0.0.1:4200/api` */
  apiUrl: string;
  config: ServerConfig;
  app: FastifyInstance;
  db: Database;
  /** The event stream (in memory, or Redis Streams with BATON_MESSAGING=redis). */
  events: EventStream;
  /** The background services running in this process. */
  services: LoopService[];
  close(): Promise<void>;
}

/** The process's logger for the database, the bus and the services (pino imported when first needed, not when this module loads). */
async function serverLogger(config: ServerConfig) {
  return (await import("pino")).default({ level: config.logLevel === "silent" ? "silent" : config.logLevel });
}

/** The bus, the event stream on it and its persister; `close` stops the persister (after it wrote what it has) and the bus. */
async function openEvents(config: ServerConfig, db: Database, logger: Parameters<typeof createBus>[1]): Promise<{ events: EventStream; close(): Promise<void> }> {
  const events = new EventStream(await createBus(config.messaging, logger));
  let stopPersister: () => Promise<void>;
  try {
    stopPersister = await startEventPersister(db, events, (error, message) => logger?.error({ err: error, event: message.slice(0, 500) }, "an event the database refused was dropped"));
  } catch (error) {
    await events.close();
    throw error;
  }
  return {
    events,
    close: async () => {
      await stopPersister();
      await events.close();
    },
  };
}

/**
 * Opens the database (running migrations), builds the app, listens, and starts the enabled
 * background services. `close()` stops the services, stops accepting requests, waits for
 * those in flight, then closes the database.
 *
 * @example
 * const server = await startServer({ config: { port: 0 } });
 * console.log(server.apiUrl);
 * await server.close();
 */
export async function startServer(options: StartServerOptions = {}): Promise<RunningServer> {
  const config = { ...loadConfig(), ...options.config };
  configureOrchestration({ tagSlotWaitSeconds: config.tagConcurrencySlotWaitSeconds });
  const logger = await serverLogger(config);
  const db = await openDatabase({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: config.databasePoolSize, logger });
  let app: FastifyInstance;
  let stream: Awaited<ReturnType<typeof openEvents>> | undefined;
  try {
    stream = await openEvents(config, db, logger);
    app = await buildApp(config, db, stream.events);
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await stream?.close();
    await db.close();
    throw error;
  }
  const { events } = stream;
  const eventsClose = stream.close;
  const services = options.services === false ? [] : createServices({ db, config, clock: options.clock ?? systemClock, events, logger: app.log, api: injectCaller(app) });
  for (const service of services) service.start();
  const address = app.server.address();
  const port = typeof address === "object" && address ? address.port : config.port;
  const host = config.host.includes(":") ? `[${config.host}]` : config.host;
  const url = `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}`;
  let closing: Promise<void> | undefined;
  return {
    url,
    apiUrl: `${url}${API_PREFIX}`,
    config: { ...config, port },
    app,
    db,
    events,
    services,
    close: () => {
      closing ??= Promise.all(services.map((s) => s.stop()))
        .then(() => app.close())
        .then(() => eventsClose())
        .then(() => db.close());
      return closing;
    },
  };
}

export interface RunningServices {
  config: ServerConfig;
  db: Database;
  events: EventStream;
  services: LoopService[];
  close(): Promise<void>;
}

/**
 * The background services alone, without the API (`baton server services start`): run it
 * next to `baton server start --no-services` against the same database.
 */
export async function startServices(options: Omit<StartServerOptions, "services"> = {}): Promise<RunningServices> {
  const config = { ...loadConfig(), ...options.config };
  const logger = await serverLogger(config);
  const db = await openDatabase({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: config.databasePoolSize, logger });
  let stream: Awaited<ReturnType<typeof openEvents>>;
  try {
    stream = await openEvents(config, db, logger);
  } catch (error) {
    await db.close();
    throw error;
  }
  const { events } = stream;
  // Automations act through the API: with the triggers service on, this process builds the app (without listening) for them.
  let app: FastifyInstance | undefined;
  if (config.services.triggers.enabled) {
    app = await buildApp({ ...config, logLevel: "silent" }, db, events);
    await app.ready();
  }
  const services = createServices({ db, config, clock: options.clock ?? systemClock, events, logger, ...(app ? { api: injectCaller(app) } : {}) });
  for (const service of services) service.start();
  // Service timers do not hold the process open (see LoopService); here they are all there is.
  const keepAlive = setInterval(() => undefined, 3_600_000);
  let closing: Promise<void> | undefined;
  return {
    config,
    db,
    events,
    services,
    close: () => {
      clearInterval(keepAlive);
      closing ??= Promise.all(services.map((s) => s.stop()))
        .then(() => app?.close())
        .then(() => stream.close())
        .then(() => db.close());
      return closing;
    },
  };
}
