import type { Database } from "../db/database.js";
import type { ServerConfig } from "../config.js";
import type { ApiRouter } from "./route.js";
import type { BackgroundTasks } from "../background/background-tasks.js";
import type { EventStream } from "../events/event-stream.js";
import type { LogWriter } from "../logs/log-writer.js";

/** What every route module receives. */
export interface ApiContext {
  router: ApiRouter;
  db: Database;
  config: ServerConfig;
  /** The queue of background task runs and the task workers connected to it. */
  backgroundTasks: BackgroundTasks;
  /** The event stream: POST /events and state changes publish to it; the persister reads it. */
  events: EventStream;
  /** Writes logs in batches and publishes them for `logs/out`. */
  logWriter: LogWriter;
}
