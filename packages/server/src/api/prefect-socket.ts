import type { FastifyInstance } from "fastify";
import type { WebSocket } from "ws";
import { keepAlive, MessageReader, messageType } from "./task-run-subscriptions.js";
import { HANDSHAKE_TIMEOUT_MS, POLICY_VIOLATION, PROTOCOL_ERROR, sendJson } from "./websocket-helpers.js";

/**
 * A streaming websocket route as Prefect's are: a plain GET (no upgrade) is told what the route
 * is; a session that throws is logged and closed with 1011 rather than left hanging.
 */
export function registerStreamRoute(
  app: FastifyInstance,
  url: string,
  plainGetDetail: string,
  serve: (socket: WebSocket) => Promise<void>,
): void {
  app.route({
    method: "GET",
    url,
    handler: (_request, reply) => {
      void reply.code(400).send({ detail: plainGetDetail });
    },
    wsHandler: (socket, request) => {
      const log = request.log;
      void serve(socket).catch((error: unknown) => {
        log.error({ err: error, url }, "websocket session failed");
        socket.close(1011, "internal error");
      });
    },
  });
}

/**
 * The opening of a Prefect stream (`events/out`, `logs/out`): the `prefect` subprotocol, an
 * `auth` message answered with `auth_success`, then a `filter` message. Returns the reader and
 * the filter message's body, or undefined once the socket has been closed with the reason.
 */
export async function openFilteredStream(socket: WebSocket): Promise<{ reader: MessageReader; body: Record<string, unknown> } | undefined> {
  if (socket.protocol !== "prefect") {
    socket.close(PROTOCOL_ERROR, "Expected the 'prefect' websocket subprotocol");
    return undefined;
  }
  const reader = new MessageReader(socket);
  keepAlive(socket);
  const auth = await reader.next(HANDSHAKE_TIMEOUT_MS);
  if (auth.kind === "closed") return undefined;
  if (auth.kind !== "message" || messageType(auth.value) !== "auth") {
    socket.close(POLICY_VIOLATION, auth.kind === "garbage" ? `Expected 'auth' message: ${auth.reason}` : "Expected 'auth' message");
    return undefined;
  }
  sendJson(socket, { type: "auth_success" });
  const message = await reader.next(HANDSHAKE_TIMEOUT_MS);
  if (message.kind === "closed") return undefined;
  if (message.kind !== "message" || messageType(message.value) !== "filter") {
    socket.close(PROTOCOL_ERROR, "Expected 'filter' message");
    return undefined;
  }
  return { reader, body: message.value as Record<string, unknown> };
}
