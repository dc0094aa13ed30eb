import type { Database } from "../db/database.js";
import type { ServerConfig } from "../config.js";
import type { ApiRouter } from "./route.js";

/** What every route module receives. */
export interface ApiContext {
  router: ApiRouter;
  db: Database;
  config: ServerConfig;
}
