/**
 * Errors shared by every Baton package. Each carries the fields a caller needs to act on
 * it; the server maps them to HTTP status codes in one place (server/src/api/errors.ts).
 */
export class BatonError extends Error {
  override name = "BatonError";
}

/** An object that does not exist: HTTP 404. */
export class ObjectNotFoundError extends BatonError {
  override name = "ObjectNotFoundError";
  constructor(
    readonly objectType: string,
    readonly objectId: string,
  ) {
    super(`${objectType} not found`);
  }
}

/** Input that breaks a rule the schema cannot express: HTTP 422, naming the field. */
export class InvalidInputError extends BatonError {
  override name = "InvalidInputError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** A write that conflicts with existing data (a duplicate unique key): HTTP 409. */
export class ConflictError extends BatonError {
  override name = "ConflictError";
}

/** An HTTP error answered by a Baton (or Prefect) server, as seen by a client. */
export class ApiError extends BatonError {
  override name = "ApiError";
  constructor(
    readonly status: number,
    readonly method: string,
    readonly url: string,
    readonly detail: string,
    /** The server's `Retry-After`, in seconds, when it sent one (423 from a full concurrency limit, 429). */
    readonly retryAfterSeconds?: number,
  ) {
    super(`${method} ${url} failed with ${status}: ${detail}`);
  }
}

/** The server could not be reached at all. */
export class ServerUnreachableError extends BatonError {
  override name = "ServerUnreachableError";
  constructor(
    readonly url: string,
    readonly reason: string,
  ) {
    super(`Cannot reach the Baton server at ${url} (${reason}). Is it running? Start it with \`baton server start\`, or set BATON_API_URL.`);
  }
}

/** A request the server understands but refuses (a protected object): HTTP 403. */
export class ForbiddenError extends BatonError {
  override name = "ForbiddenError";
}

/**
 * A concurrency limit has no free slots for a request right now: HTTP 423 with a `Retry-After`
 * (in seconds) telling the caller when trying again is likely to succeed.
 */
export class SlotsUnavailableError extends BatonError {
  override name = "SlotsUnavailableError";
  constructor(
    message: string,
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message);
  }
}
