import type { Database } from "../db/database.js";
import type { ServerConfig } from "../config.js";
import type { ApiRouter } from "./route.js";
import type { BackgroundTasks } from "../background/background-tasks.js";
import type { EventBus } from "../automations/event-bus.js";

/** What every route module receives. */
export interface ApiContext {
  router: ApiRouter;
  db: Database;
  config: ServerConfig;
  /** The queue of background task runs and the task workers connected to it. */
  backgroundTasks: BackgroundTasks;
  /** The event stream: events received are published on it (the trigger engine consumes them). */
  events?: EventBus;
}
