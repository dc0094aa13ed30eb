import { LogFilter, type Log } from "@baton/core";
import type { FastifyInstance } from "fastify";
import type { WebSocket } from "ws";
import { logMatches } from "../events/matching.js";
import type { ApiContext } from "./context.js";
import { keepAlive, MessageReader, messageType } from "./task-run-subscriptions.js";
import { closeReason, firstIssue, HANDSHAKE_TIMEOUT_MS, POLICY_VIOLATION, PROTOCOL_ERROR, sendJson } from "./websocket-helpers.js";

export const LOGS_OUT_PATH = "/logs/out";

/**
 * `logs/out`, Prefect's live log stream: the `prefect` subprotocol, `auth`, then
 * `{"type": "filter", "filter": {<a logs filter as in POST /logs/filter>}}`; the server sends
 * every log written from then on that matches, as `{"type": "log", "log": {...}}`, whichever
 * server process it was written to (on Redis). No backfill: read earlier logs with
 * `POST /logs/filter` (`baton flow-run logs --follow` does both).
 */
export function registerLogWebsocketRoutes(app: FastifyInstance, prefix: string, context: ApiContext): void {
  app.route({
    method: "GET",
    url: prefix + LOGS_OUT_PATH,
    handler: (_request, reply) => {
      void reply.code(400).send({ detail: "This route is a websocket: connect with the 'prefect' subprotocol to stream logs." });
    },
    wsHandler: (socket, request) => {
      const log = request.log;
      void serveLogsOut(socket, context).catch((error: unknown) => {
        log.error({ err: error }, "logs/out failed");
        socket.close(1011, "internal error");
      });
    },
  });
}

async function serveLogsOut(socket: WebSocket, { events }: ApiContext): Promise<void> {
  if (socket.protocol !== "prefect") {
    socket.close(PROTOCOL_ERROR, "Expected the 'prefect' websocket subprotocol");
    return;
  }
  const reader = new MessageReader(socket);
  keepAlive(socket);
  const auth = await reader.next(HANDSHAKE_TIMEOUT_MS);
  if (auth.kind === "closed") return;
  if (auth.kind !== "message" || messageType(auth.value) !== "auth") {
    socket.close(POLICY_VIOLATION, auth.kind === "garbage" ? `Expected 'auth' message: ${auth.reason}` : "Expected 'auth' message");
    return;
  }
  sendJson(socket, { type: "auth_success" });
  const message = await reader.next(HANDSHAKE_TIMEOUT_MS);
  if (message.kind === "closed") return;
  if (message.kind !== "message" || messageType(message.value) !== "filter") {
    socket.close(PROTOCOL_ERROR, "Expected 'filter' message");
    return;
  }
  const parsed = LogFilter.safeParse((message.value as { filter?: unknown }).filter ?? {});
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
