import type { FastifyInstance } from "fastify";
import { loadConfig, type ServerConfig } from "./config.js";
import { openDatabase, type Database } from "./db/database.js";
import { API_PREFIX, buildApp } from "./app.js";
import { configureOrchestration } from "./orchestration/settings.js";
import { createServices, systemClock, type Clock, type LoopService, type ServiceResources } from "./services/index.js";
import { injectCaller } from "./automations/api-caller.js";
import { LocalEventBus } from "./automations/local-event-bus.js";
import type { EventBus } from "./automations/event-bus.js";
import { insertEvents } from "./db/queries/events.js";
import type { ReceivedEvent } from "@baton/core";

/** Events that services emit (automations' own) are stored like any other, then published. */
function eventPublisher(db: Database, events: EventBus): (batch: ReceivedEvent[]) => Promise<void> {
  return async (batch) => {
    if (batch.length === 0) return;
    await insertEvents(db, batch, batch[0]!.received);
    await events.publish(batch);
  };
}

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
  /** The background services running in this process. */
  services: LoopService[];
  close(): Promise<void>;
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
  const db = await openDatabase({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: config.databasePoolSize });
  const events = new LocalEventBus();
  let app: FastifyInstance;
  try {
    app = await buildApp(config, db, { events });
    await app.listen({ host: config.host, port: config.port });
  } catch (error) {
    await db.close();
    throw error;
  }
  const resources: ServiceResources = { db, config, clock: options.clock ?? systemClock, logger: app.log, events, publishEvents: eventPublisher(db, events), api: injectCaller(app) };
  const services = options.services === false ? [] : createServices(resources);
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
    services,
    close: () => {
      closing ??= Promise.all(services.map((s) => s.stop()))
        .then(() => app.close())
        .then(() => db.close());
      return closing;
    },
  };
}

export interface RunningServices {
  config: ServerConfig;
  db: Database;
  services: LoopService[];
  close(): Promise<void>;
}

/**
 * The background services alone, without the API (`baton server services start`): run it
 * next to `baton server start --no-services` against the same database.
 */
export async function startServices(options: Omit<StartServerOptions, "services"> = {}): Promise<RunningServices> {
  const config = { ...loadConfig(), ...options.config };
  const db = await openDatabase({ url: config.databaseUrl, schema: config.databaseSchema, poolSize: config.databasePoolSize });
  const logger = (await import("pino")).default({ level: config.logLevel === "silent" ? "silent" : config.logLevel });
  // Automations act through the API: this process builds the app (without listening) for them.
  const events = new LocalEventBus();
  const app = config.services.triggers.enabled ? await buildApp({ ...config, logLevel: "silent" }, db, { events }) : undefined;
  await app?.ready();
  const services = createServices({
    db,
    config,
    clock: options.clock ?? systemClock,
    logger,
    events,
    publishEvents: eventPublisher(db, events),
    ...(app ? { api: injectCaller(app) } : {}),
  });
  for (const service of services) service.start();
  // Service timers do not hold the process open (see LoopService); here they are all there is.
  const keepAlive = setInterval(() => undefined, 3_600_000);
  let closing: Promise<void> | undefined;
  return {
    config,
    db,
    services,
    close: () => {
      clearInterval(keepAlive);
      closing ??= Promise.all(services.map((s) => s.stop()))
        .then(() => app?.close())
        .then(() => db.close());
      return closing;
    },
  };
}
