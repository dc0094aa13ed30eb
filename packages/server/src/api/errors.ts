import { ConflictError, ForbiddenError, InvalidInputError, ObjectNotFoundError, SlotsUnavailableError } from "@baton/core";
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ZodError } from "zod";

/** Answers a request no route matched, returning true when it did (the web UI's index.html). */
export type NotFoundFallback = (request: FastifyRequest, reply: FastifyReply) => boolean;

/**
 * The single place where errors become HTTP responses. Validation problems name the field;
 * nothing a client sends produces a 5xx. Unexpected errors are logged and answered with a
 * generic 500 that leaks no stack trace.
 */
export function installErrorHandling(app: FastifyInstance, notFoundFallback?: NotFoundFallback): void {
  app.setErrorHandler((error: FastifyError | Error, request, reply) => {
    if (error instanceof ZodError) {
      const detail = error.issues.map((issue) => ({
        loc: issue.path.map((p) => (typeof p === "symbol" ? String(p) : p)),
        msg: issue.message,
        type: issue.code,
      }));
      const first = detail[0];
      const where = first ? first.loc.join(".") : "request";
      return reply.code(422).send({
        exception_message: `Invalid request: ${where}: ${first?.msg ?? "invalid value"}`,
        exception_detail: detail,
        request_body: request.body ?? null,
      });
    }
    if (error instanceof ObjectNotFoundError) return reply.code(404).send({ detail: error.message });
    if (error instanceof InvalidInputError) {
      return reply.code(422).send({
        exception_message: `Invalid request: ${error.message}`,
        exception_detail: [{ loc: error.field.split("."), msg: error.message, type: "value_error" }],
        request_body: request.body ?? null,
      });
    }
    if (error instanceof ConflictError) return reply.code(409).send({ detail: error.message });
    if (error instanceof ForbiddenError) return reply.code(403).send({ detail: error.message });
    if (error instanceof SlotsUnavailableError) {
      if (error.retryAfterSeconds !== undefined) reply.header("Retry-After", error.retryAfterSeconds.toFixed(3));
      return reply.code(423).send({ detail: error.message });
    }
    const conflict = constraintViolation(error);
    if (conflict) return reply.code(409).send({ detail: conflict });
    const status = (error as FastifyError).statusCode;
    if (status === 422) {
      return reply.code(422).send({
        exception_message: error.message,
        exception_detail: [{ loc: ["body"], msg: error.message, type: "value_error" }],
        request_body: null,
      });
    }
    if (status && status >= 400 && status < 500) {
      return reply.code(status).send({ detail: clientErrorMessage(error as FastifyError) });
    }
    request.log.error({ err: error }, "unhandled error");
    return reply.code(500).send({ detail: "Internal server error" });
  });
  app.setNotFoundHandler((request, reply) => {
    // The web UI's client-side routes (`/runs/...`) are answered with its index.html.
    if (notFoundFallback?.(request, reply)) return reply;
    return reply.code(404).send({ detail: `Not Found: ${request.method} ${request.url.split("?")[0]}` });
  });
}

/**
 * A write that breaks a unique or foreign-key constraint (an id sent twice, a reference to
 * something deleted meanwhile) is the client's conflict, not a server fault.
 */
function constraintViolation(error: unknown): string | undefined {
  const code = (error as { code?: unknown }).code;
  if (code === "23505" || code === "SQLITE_CONSTRAINT_PRIMARYKEY" || code === "SQLITE_CONSTRAINT_UNIQUE") {
    return "Conflict: an object with this id or unique key already exists";
  }
  if (code === "23503" || code === "SQLITE_CONSTRAINT_FOREIGNKEY") {
    return "Conflict: the object refers to another object that does not exist";
  }
  return undefined;
}

function clientErrorMessage(error: FastifyError): string {
  switch (error.code) {
    case "FST_ERR_CTP_BODY_TOO_LARGE":
      return "Request body is too large";
    case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
      return "Unsupported content type: send application/json";
    default:
      return error.message;
  }
}
