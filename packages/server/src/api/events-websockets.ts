import { Event, EventFilter, InvalidInputError, MAX_EVENT_BATCH, type ReceivedEvent } from "@baton/core";
import { fastEvent } from "../events/fast-event.js";
import type { FastifyInstance } from "fastify";
import type { RawData, WebSocket } from "ws";
import { z } from "zod";
import { filterEvents } from "../db/queries/events.js";
import { eventMatches } from "../events/matching.js";
import { receiveEvents } from "../events/receive.js";
import type { ApiContext } from "./context.js";
import { openFilteredStream, registerStreamRoute } from "./prefect-socket.js";
import { keepAlive, messageType } from "./task-run-subscriptions.js";
import { closeReason, firstIssue, messageText, PROTOCOL_ERROR, sendJson } from "./websocket-helpers.js";
import { unstorableJson } from "../validation/unstorable-json.js";

export const EVENTS_IN_PATH = "/events/in";
export const EVENTS_OUT_PATH = "/events/out";
/** Most events `events/out` sends from before the connection (as Prefect's backfill). */
const BACKFILL_LIMIT = 1000;
/** Events a connection has read and not yet handed on; beyond it the socket stops reading. */
const MAX_IN_FLIGHT = 20_000;

const Batch = z.array(Event).max(MAX_EVENT_BATCH);

/**
 * `events/in` and `events/out`, the websockets of Prefect's event stream.
 *
 * `events/in`: each text message is one event as `POST /events` takes it (or a JSON array of
 * them). A client may first send `{"type": "auth", "token": ...}` (answered `auth_success`).
 * A message that is not a valid event gets `{"type": "error", "reason": ...}` naming the field,
 * and the connection stays open: the client's other events, and everybody else's, go on.
 * Events are handed on in batches (whatever arrived while the previous batch was handed on).
 *
 * `events/out`: the `prefect` subprotocol, `auth`, then `{"type": "filter", "filter": {...},
 * "backfill": true}`; the server sends the stored events matching the filter (up to 1,000,
 * oldest first) and then every new matching event as `{"type": "event", "event": {...}}`.
 */
export function registerEventWebsocketRoutes(app: FastifyInstance, prefix: string, context: ApiContext): void {
  app.route({
    method: "GET",
    url: prefix + EVENTS_IN_PATH,
    handler: (_request, reply) => {
      void reply.code(400).send({ detail: "This route is a websocket: send events as JSON text messages." });
    },
    wsHandler: (socket, request) => serveEventsIn(socket, context, request.log),
  });
  registerStreamRoute(app, prefix + EVENTS_OUT_PATH, "This route is a websocket: connect with the 'prefect' subprotocol to stream events.", (socket) =>
    serveEventsOut(socket, context),
  );
}

function serveEventsIn(socket: WebSocket, { db, events: stream }: ApiContext, log: FastifyInstance["log"]): void {
  keepAlive(socket);
  let pending: Event[] = [];
  let handing: Promise<void> | undefined;
  let first = true;
  let paused = false;

  const handOn = async () => {
    // The messages of this tick join the batch.
    await new Promise((resolve) => setImmediate(resolve));
    while (pending.length > 0) {
      const batch = pending;
      pending = [];
      try {
        await receiveEvents(db, stream, batch);
      } catch (error) {
        if (!(error instanceof InvalidInputError)) {
          log.error({ err: error }, "events/in could not take a batch");
          sendJson(socket, { type: "error", reason: "events not recorded: internal error" });
        } else {
          // A valid event the server refuses (a task-run event of an unknown flow run): the
          // batch is taken one event at a time, so only that one is refused, and its client told.
          for (const event of batch) {
            try {
              await receiveEvents(db, stream, [event]);
            } catch (single) {
              const reason = single instanceof InvalidInputError ? single.message.replace(/^body\.0\./, "") : "internal error";
              sendJson(socket, { type: "error", reason: `event ${event.id} not recorded: ${reason}` });
            }
          }
        }
      }
      if (paused && pending.length < MAX_IN_FLIGHT / 2) {
        paused = false;
        socket.resume();
      }
    }
    handing = undefined;
  };

  socket.on("message", (data: RawData, isBinary: boolean) => {
    const text = messageText(data, isBinary);
    if (typeof text !== "string") return void sendJson(socket, { type: "error", reason: text.error });
    // Neither database stores NUL characters (PostgreSQL refuses them), as POST /events refuses them.
    if (text.includes("\\u0000") || text.includes("\u0000")) return void sendJson(socket, { type: "error", reason: "strings may not contain NUL (\\u0000) characters" });
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return void sendJson(socket, { type: "error", reason: "expected a JSON message (an event, or an array of events)" });
    }
    // As POST /events refuses them: a lone surrogate, say, would be accepted, then refused by PostgreSQL.
    const unstorable = unstorableJson(text, value);
    if (unstorable) return void sendJson(socket, { type: "error", reason: `invalid event: ${unstorable}` });
    if (first) {
      first = false;
      if (messageType(value) === "auth") return void sendJson(socket, { type: "auth_success" });
    }
    const items = Array.isArray(value) ? value : [value];
    const fast: Event[] = [];
    for (const item of items) {
      const event = fastEvent(item);
      if (!event) break;
      fast.push(event);
    }
    if (fast.length === items.length && items.length <= MAX_EVENT_BATCH) {
      for (const event of fast) pending.push(event);
    } else {
      const parsed = Array.isArray(value) ? Batch.safeParse(value) : Event.safeParse(value);
      if (!parsed.success) return void sendJson(socket, { type: "error", reason: `invalid event: ${firstIssue(parsed.error)}` });
      if (Array.isArray(parsed.data)) for (const event of parsed.data) pending.push(event);
      else pending.push(parsed.data);
    }
    if (pending.length >= MAX_IN_FLIGHT && !paused) {
      paused = true;
      socket.pause();
    }
    handing ??= handOn();
  });
}

async function serveEventsOut(socket: WebSocket, { db, events: stream }: ApiContext): Promise<void> {
  const opened = await openFilteredStream(socket);
  if (opened === undefined) return;
  const { reader } = opened;
  const body = opened.body as { filter?: unknown; backfill?: unknown };
  const parsed = EventFilter.safeParse(body.filter ?? {});
  if (!parsed.success) {
    socket.close(PROTOCOL_ERROR, closeReason(`Invalid filter: ${firstIssue(parsed.error, "filter")}`));
    return;
  }
  const filter = parsed.data;
  const backfill = body.backfill !== false;
  // From here the client has nothing to say; garbage is answered, not fatal.
  reader.rejectUnexpected((incoming) => {
    if (incoming.kind === "garbage") sendJson(socket, { type: "error", reason: incoming.reason });
  });

  // Subscribe first so nothing falls between the backfill and the live stream.
  let buffered: ReceivedEvent[] | undefined = [];
  let backfilled: Set<string> | undefined;
  const send = (event: ReceivedEvent) => {
    if (backfilled?.delete(event.id)) return;
    sendJson(socket, { type: "event", event });
  };
  const stop = await stream.live((events) => {
    for (const event of events) {
      if (!eventMatches(filter, event)) continue;
      if (buffered) buffered.push(event);
      else send(event);
    }
  });
  socket.once("close", stop);
  if (socket.readyState !== socket.OPEN) return stop();
  if (backfill) {
    const { events } = await filterEvents(db, { ...filter, order: "DESC" }, { limit: BACKFILL_LIMIT, offset: 0 });
    backfilled = new Set();
    for (const event of events.reverse()) {
      backfilled.add(event.id);
      sendJson(socket, { type: "event", event });
    }
  }
  const waiting = buffered;
  buffered = undefined;
  for (const event of waiting) send(event);
}
