import { Log, LogCreate, LogFilterBody } from "@baton/core";
import { z } from "zod";
import { filterLogs } from "../db/queries/logs.js";
import { parseCommonLogs } from "../validation/hot-bodies.js";
import type { ApiContext } from "./context.js";

/** Largest batch one `POST /logs/` accepts; clients send more in several requests. */
export const MAX_LOG_BATCH = 10_000;

export function registerLogRoutes({ router, db, logWriter }: ApiContext): void {
  router.route({
    method: "POST",
    path: "/logs/",
    tag: "Logs",
    summary: `Write a batch of logs (at most ${MAX_LOG_BATCH})`,
    body: z.array(LogCreate).max(MAX_LOG_BATCH),
    fastBody: (body) => parseCommonLogs(body, MAX_LOG_BATCH),
    status: 201,
    handler: async ({ body }) => {
      await logWriter.write(body);
      return null;
    },
  });
  router.route({
    method: "POST",
    path: "/logs/filter",
    tag: "Logs",
    summary: "Query logs",
    body: LogFilterBody,
    response: z.array(Log),
    handler: ({ body }) => filterLogs(db, body.logs, body),
  });
}
