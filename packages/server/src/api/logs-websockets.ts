import { LogFilter, type Log } from "@baton/core";
import type { FastifyInstance } from "fastify";
import type { WebSocket } from "ws";
import { logMatches } from "../events/matching.js";
import type { ApiContext } from "./context.js";
import { openFilteredStream, registerStreamRoute } from "./prefect-socket.js";
import { closeReason, firstIssue, PROTOCOL_ERROR, sendJson } from "./websocket-helpers.js";

export const LOGS_OUT_PATH = "/logs/out";

/**
 * `logs/out`, Prefect's live log stream: the `prefect` subprotocol, `auth`, then
 * `{"type": "filter", "filter": {<a logs filter as in POST /logs/filter>}}`; the server sends
 * every log written from then on that matches, as `{"type": "log", "log": {...}}`, whichever
 * server process it was written to (on Redis). No backfill: read earlier logs with
 * `POST /logs/filter` (`baton flow-run logs --follow` does both).
 */
export function registerLogWebsocketRoutes(app: FastifyInstance, prefix: string, context: ApiContext): void {
  registerStreamRoute(app, prefix + LOGS_OUT_PATH, "This route is a websocket: connect with the 'prefect' subprotocol to stream logs.", (socket) =>
    serveLogsOut(socket, context),
  );
}

async function serveLogsOut(socket: WebSocket, { events }: ApiContext): Promise<void> {
  const opened = await openFilteredStream(socket);
  if (opened === undefined) return;
  const { reader } = opened;
  const parsed = LogFilter.safeParse(opened.body.filter ?? {});
  if (!parsed.success) {
    socket.close(PROTOCOL_ERROR, closeReason(`Invalid filter: ${firstIssue(parsed.error, "filter")}`));
    return;
  }
  const filter = parsed.data;
  reader.rejectUnexpected((incoming) => {
    if (incoming.kind === "garbage") sendJson(socket, { type: "error", reason: incoming.reason });
  });
  const stop = await events.logs.live((logs: Log[]) => {
    for (const log of logs) if (logMatches(filter, log)) sendJson(socket, { type: "log", log });
  });
  socket.once("close", stop);
  if (socket.readyState !== socket.OPEN) stop();
}
