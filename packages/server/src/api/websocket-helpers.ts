import type { RawData, WebSocket } from "ws";
import type { ZodError } from "zod";

/** Close codes, as Prefect's server uses them. */
export const PROTOCOL_ERROR = 1002;
export const POLICY_VIOLATION = 1008;
/** The client reads slower than its events come: it is cut off rather than buffered without end. */
export const TRY_AGAIN_LATER = 1013;
/** A connection that has not authenticated and sent its filter by then is closed. */
export const HANDSHAKE_TIMEOUT_MS = 10_000;
/** Output a client may leave unread before it is cut off. */
export const MAX_BUFFERED_BYTES = 16 * 1024 * 1024;

/** A message's text, or why it is not a text message. */
export function messageText(data: RawData, isBinary: boolean): string | { error: string } {
  if (isBinary) return { error: "expected a JSON text message, got binary data" };
  return Array.isArray(data) ? Buffer.concat(data).toString("utf8") : Buffer.from(data as ArrayBuffer).toString("utf8");
}

/** The first problem of a zod error, naming its field (`3.resource.prefect.resource.id: ...`). */
export function firstIssue(error: ZodError, prefix?: string): string {
  const issue = error.issues[0];
  if (!issue) return "invalid value";
  const path = [...(prefix === undefined ? [] : [prefix]), ...issue.path.map((p) => (typeof p === "symbol" ? String(p) : p))].join(".");
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** Sends `value` as JSON when the socket is open; a client too far behind is closed. */
export function sendJson(socket: WebSocket, value: unknown): boolean {
  if (socket.readyState !== socket.OPEN) return false;
  if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
    socket.close(TRY_AGAIN_LATER, "Falling behind: the client reads slower than events arrive");
    return false;
  }
  socket.send(JSON.stringify(value));
  return true;
}

/** Close reasons are limited to 123 bytes by the protocol. */
export function closeReason(text: string): string {
  const buffer = Buffer.from(text, "utf8");
  if (buffer.length <= 123) return text;
  return buffer.subarray(0, 120).toString("utf8").replace(/\uFFFD$/, "") + "...";
}
