import websocket from "@fastify/websocket";
import type { FastifyInstance } from "fastify";
import type { RawData, WebSocket } from "ws";
import type { BackgroundTasks } from "../background/background-tasks.js";

export const TASK_RUN_SUBSCRIPTION_PATH = "/task_runs/subscriptions/scheduled";

/** Close codes, as Prefect's server uses them. */
const PROTOCOL_ERROR = 1002;
const POLICY_VIOLATION = 1008;
const PROTOCOL_VIOLATION = 4001;
/** A connection that has not authenticated and subscribed by then is closed. */
const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Pings keep idle connections open through proxies and find peers that vanished without closing. */
const PING_INTERVAL_MS = 15_000;
/**
 * Largest message any websocket client may send: the plugin's limit is for all routes, and
 * `events/in` takes batches of events in one message (a task worker's acks are a few bytes).
 */
const MAX_CLIENT_MESSAGE_BYTES = 8 * 1024 * 1024;

/**
 * `GET /api/task_runs/subscriptions/scheduled`, the websocket task workers receive their
 * background task runs on, speaking Prefect's protocol:
 *
 * 1. The client asks for the `prefect` subprotocol (otherwise: close 1002).
 * 2. It sends `{"type": "auth", "token": ...}`; the server answers `{"type": "auth_success"}`
 *    (Baton has no authentication; anything else first is closed 1008).
 * 3. It sends `{"type": "subscribe", "keys": [task keys], "client_id": "..."}` (a missing
 *    part is closed 4001, naming it).
 * 4. The server sends one scheduled background task run at a time as its JSON, and the next
 *    only after the client answered `{"type": "ack"}` (or `{"type": "quit"}` to stop). A run
 *    sent but not acknowledged when the connection ends goes back to the front of its queue.
 *
 * The client then claims the run by proposing PENDING; only the accepted claim runs it.
 */
export async function registerTaskRunSubscriptionRoutes(app: FastifyInstance, prefix: string, backgroundTasks: BackgroundTasks): Promise<void> {
  await app.register(websocket, {
    options: {
      maxPayload: MAX_CLIENT_MESSAGE_BYTES,
      // Accept Prefect's subprotocol when offered; a connection without it is closed with 1002 below.
      handleProtocols: (protocols) => (protocols.has("prefect") ? "prefect" : false),
    },
  });
  app.route({
    method: "GET",
    url: prefix + TASK_RUN_SUBSCRIPTION_PATH,
    // A plain GET (no upgrade) is told what the route is.
    handler: (_request, reply) => {
      void reply.code(400).send({ detail: "This route is a websocket: connect with the 'prefect' subprotocol to receive scheduled background task runs." });
    },
    wsHandler: (socket, request) => {
      const log = request.log;
      void serveSubscription(socket, backgroundTasks).catch((error: unknown) => {
        log.error({ err: error }, "task run subscription failed");
        socket.close(1011, "internal error");
      });
    },
  });
}

export type Incoming = { kind: "message"; value: unknown } | { kind: "garbage"; reason: string } | { kind: "closed" } | { kind: "timeout" };

/** The client's messages, one at a time, as parsed JSON. */
export class MessageReader {
  readonly #queued: Incoming[] = [];
  #waiting: ((incoming: Incoming) => void) | undefined;
  #closed = false;
  #onUnexpected: ((incoming: Incoming) => void) | undefined;

  constructor(socket: WebSocket) {
    socket.on("message", (data: RawData, isBinary: boolean) => {
      if (isBinary) return this.#push({ kind: "garbage", reason: "expected a JSON text message, got binary data" });
      const text = Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data as ArrayBuffer).toString("utf8");
      try {
        this.#push({ kind: "message", value: JSON.parse(text) as unknown });
      } catch {
        this.#push({ kind: "garbage", reason: "expected a JSON message" });
      }
    });
    socket.on("close", () => {
      this.#closed = true;
      this.#push({ kind: "closed" });
    });
  }

  /**
   * From now on a message nobody is waiting for is handed to `handler` rather than kept
   * (those already kept included: a client may send several messages in one packet).
   */
  rejectUnexpected(handler: (incoming: Incoming) => void): void {
    this.#onUnexpected = handler;
    const kept = this.#queued.splice(0).filter((incoming) => incoming.kind !== "closed");
    const first = kept[0];
    if (first) handler(first);
  }

  next(timeoutMs?: number): Promise<Incoming> {
    const queued = this.#queued.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.resolve({ kind: "closed" });
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => settle({ kind: "timeout" }), timeoutMs);
      const settle = (incoming: Incoming) => {
        if (timer) clearTimeout(timer);
        this.#waiting = undefined;
        resolve(incoming);
      };
      this.#waiting = settle;
    });
  }

  #push(incoming: Incoming): void {
    if (this.#waiting) this.#waiting(incoming);
    else if (this.#onUnexpected && incoming.kind !== "closed") this.#onUnexpected(incoming);
    else this.#queued.push(incoming);
  }
}

export function messageType(value: unknown): unknown {
  return typeof value === "object" && value !== null ? (value as { type?: unknown }).type : undefined;
}

async function serveSubscription(socket: WebSocket, backgroundTasks: BackgroundTasks): Promise<void> {
  if (socket.protocol !== "prefect") {
    socket.close(PROTOCOL_ERROR, "Expected the 'prefect' websocket subprotocol");
    return;
  }
  const reader = new MessageReader(socket);
  const stopped = new AbortController();
  socket.on("close", () => stopped.abort());
  keepAlive(socket);

  const auth = await reader.next(HANDSHAKE_TIMEOUT_MS);
  if (auth.kind === "closed") return;
  if (auth.kind !== "message" || messageType(auth.value) !== "auth") {
    socket.close(POLICY_VIOLATION, auth.kind === "garbage" ? `Expected 'auth' message: ${auth.reason}` : "Expected 'auth' message");
    return;
  }
  socket.send(JSON.stringify({ type: "auth_success" }));

  const subscribe = await reader.next(HANDSHAKE_TIMEOUT_MS);
  if (subscribe.kind === "closed") return;
  const subscription = subscribe.kind === "message" ? parseSubscription(subscribe.value) : { error: subscribe.kind === "garbage" ? `expected 'subscribe' message: ${subscribe.reason}` : "expected 'subscribe' message" };
  if ("error" in subscription) {
    socket.close(PROTOCOL_VIOLATION, `Protocol violation: ${subscription.error}`);
    return;
  }
  const { keys, clientId } = subscription;
  // From here the client only speaks when answering a run.
  reader.rejectUnexpected((incoming) =>
    socket.close(PROTOCOL_VIOLATION, `Protocol violation: unexpected message while no task run was offered${incoming.kind === "garbage" ? ` (${incoming.reason})` : ""}`),
  );
  backgroundTasks.workerConnected(clientId, keys);
  try {
    for (;;) {
      const entry = await backgroundTasks.queue.take(keys, stopped.signal);
      if (!entry) return;
      let run;
      try {
        run = await backgroundTasks.deliverable(entry);
      } catch (error) {
        backgroundTasks.queue.retry(entry);
        throw error;
      }
      if (!run) continue;
      if (socket.readyState !== socket.OPEN) {
        backgroundTasks.queue.retry(entry);
        return;
      }
      socket.send(JSON.stringify(run));
      const answer = await reader.next();
      if (answer.kind === "message" && messageType(answer.value) === "ack") {
        backgroundTasks.acknowledged(clientId, run.id);
        continue;
      }
      // Not taken: it goes first to the next worker (the claim decides who runs it, so a worker
      // that did take it and only failed to say so loses nothing).
      backgroundTasks.queue.retry(entry);
      if (answer.kind === "closed") return;
      if (answer.kind === "message" && messageType(answer.value) === "quit") {
        socket.close(1000, "quit");
        return;
      }
      socket.close(PROTOCOL_VIOLATION, `Protocol violation: expected 'ack' message${answer.kind === "garbage" ? ` (${answer.reason})` : ""}`);
      return;
    }
  } finally {
    backgroundTasks.workerDisconnected(clientId);
  }
}

function parseSubscription(value: unknown): { keys: string[]; clientId: string } | { error: string } {
  if (messageType(value) !== "subscribe") return { error: "expected 'subscribe' message" };
  const { keys, client_id: clientId } = value as { keys?: unknown; client_id?: unknown };
  if (!Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === "string" && k !== "")) {
    return { error: "expected 'keys' in subscribe message (a non-empty list of task keys)" };
  }
  if (typeof clientId !== "string" || clientId === "") return { error: "expected 'client_id' in subscribe message" };
  return { keys: [...new Set(keys as string[])], clientId };
}

/** Pings the peer; one that has not answered the previous ping is cut off. */
export function keepAlive(socket: WebSocket): void {
  let alive = true;
  socket.on("pong", () => (alive = true));
  const timer = setInterval(() => {
    if (!alive) {
      socket.terminate();
      return;
    }
    alive = false;
    socket.ping();
  }, PING_INTERVAL_MS);
  timer.unref();
  socket.on("close", () => clearInterval(timer));
}
