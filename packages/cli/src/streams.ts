import WebSocket from "ws";
import { CliError } from "./errors.js";

/** How long opening a stream (connect, auth) may take. */
const OPEN_TIMEOUT_MS = 10_000;

/**
 * One of the server's streaming websockets (`events/out`, `logs/out`), spoken as Prefect's
 * clients do: the `prefect` subprotocol, `auth`, then the filter message; each item of the
 * given `type` is handed to `onItem` as it arrives.
 */
export class ServerStream {
  /** Resolves when the connection ends, with the server's close code and reason. */
  readonly closed: Promise<{ code: number; reason: string }>;
  #closing = false;

  private constructor(
    private readonly socket: WebSocket,
    closed: Promise<{ code: number; reason: string }>,
  ) {
    this.closed = closed;
  }

  /** Connects and subscribes; a server that does not serve `path` is a `CliError`. */
  static async open<T>(apiUrl: string, path: string, filterMessage: Record<string, unknown>, type: string, onItem: (item: T) => void): Promise<ServerStream> {
    const url = `${apiUrl.replace(/^http/, "ws")}${path}`;
    const socket = new WebSocket(url, ["prefect"]);
    const closed = new Promise<{ code: number; reason: string }>((resolve) => socket.once("close", (code, reason) => resolve({ code, reason: String(reason) })));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error("timed out")), OPEN_TIMEOUT_MS);
      const fail = (error: Error) => {
        clearTimeout(timer);
        socket.terminate();
        reject(new CliError(`Cannot stream from ${url}: ${error.message}`));
      };
      socket.once("error", fail);
      socket.once("unexpected-response", (_request, response) => fail(new Error(`HTTP ${response.statusCode}`)));
      socket.once("open", () => socket.send(JSON.stringify({ type: "auth", token: null })));
      socket.on("message", (data) => {
        let message: { type?: unknown; [key: string]: unknown };
        try {
          message = JSON.parse(String(data)) as typeof message;
        } catch {
          return;
        }
        if (message.type === "auth_success") {
          clearTimeout(timer);
          socket.off("error", fail);
          socket.on("error", () => undefined);
          socket.send(JSON.stringify(filterMessage));
          resolve();
        } else if (message.type === type) {
          onItem(message[type] as T);
        }
      });
      void closed.then(({ code, reason }) => fail(new Error(`closed (${code}${reason ? `: ${reason}` : ""})`)));
    });
    const stream = new ServerStream(socket, closed);
    return stream;
  }

  /** Whether the connection ended without `close()` being called. */
  get closedByServer(): boolean {
    return !this.#closing && this.socket.readyState === WebSocket.CLOSED;
  }

  close(): void {
    this.#closing = true;
    this.socket.close();
  }
}
