import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z, type ZodType } from "zod";
import { Admission } from "./admission.js";

type Method = "GET" | "POST" | "PATCH" | "PUT" | "DELETE";

export interface RouteInput<P, B, Q> {
  params: P;
  body: B;
  query: Q;
  request: FastifyRequest;
  reply: FastifyReply;
}

export interface RouteSpec<P, B, Q> {
  method: Method;
  /** Path below `/api`, as in the contract (`/flow_runs/{id}`). */
  path: string;
  summary: string;
  tag: string;
  params?: ZodType<P>;
  body?: ZodType<B>;
  /**
   * A hot path for bodies sent in bulk: returns what `body` would parse, or undefined for
   * anything it does not take (valid or not), which `body` then parses and, if bad, names.
   */
  fastBody?: (value: unknown) => B | undefined;
  query?: ZodType<Q>;
  /** Documented response body; omitted for 204 routes. */
  response?: ZodType;
  /** Status on success (default 200; 204 sends no body). */
  status?: number;
  /**
   * Run the handler as soon as the request is read, ahead of the requests waiting their turn
   * (admission.ts): for taking and giving back concurrency slots, short and waited on by the
   * work they admit. Others start one per turn of the event loop.
   */
  admitAtOnce?: boolean;
  handler(input: RouteInput<P, B, Q>): Promise<unknown> | unknown;
}

interface OpenApiOperation {
  summary: string;
  tags: string[];
  parameters?: unknown[];
  requestBody?: unknown;
  responses: Record<string, unknown>;
}

/**
 * Registers routes on Fastify and records them for `/api/openapi.json`. Every input is
 * parsed with its zod schema from `@baton/core`; a failure throws the ZodError, which the
 * central error handler turns into a 422 naming the field.
 */
export class ApiRouter {
  private readonly operations = new Map<string, Record<string, OpenApiOperation>>();
  readonly admission = new Admission();

  /** The app's logger, for route modules (failures that must not fail the request). */
  get log(): FastifyInstance["log"] {
    return this.app.log;
  }

  constructor(
    private readonly app: FastifyInstance,
    private readonly prefix: string,
  ) {}

  route<P = undefined, B = undefined, Q = undefined>(spec: RouteSpec<P, B, Q>): void {
    const status = spec.status ?? 200;
    this.app.route({
      method: spec.method,
      url: this.prefix + spec.path.replace(/\{(\w+)\}/g, ":$1"),
      handler: async (request, reply) => {
        if (!spec.admitAtOnce) await this.admission.turn();
        const params = spec.params ? parseIn("path", spec.params, request.params) : (undefined as P);
        const query = spec.query ? parseIn("query", spec.query, request.query) : (undefined as Q);
        const raw = request.body ?? {};
        const body = spec.body ? (spec.fastBody?.(raw) ?? parseIn("body", spec.body, raw)) : (undefined as B);
        reply.code(status);
        const result = await spec.handler({ params, body, query, request, reply });
        if (reply.statusCode === 204) return reply.send();
        // Fastify would send a bare string as text/plain; the contract's string responses are JSON strings.
        if (typeof result === "string") return reply.type("application/json; charset=utf-8").send(JSON.stringify(result));
        return result;
      },
    });
    this.record(spec, status);
  }

  openApiDocument(info: { title: string; version: string }): Record<string, unknown> {
    return {
      openapi: "3.1.0",
      info: { ...info, description: "Baton speaks Prefect's REST API v3. Every route below is served under /api." },
      servers: [{ url: this.prefix }],
      paths: Object.fromEntries(this.operations),
    };
  }

  private record<P, B, Q>(spec: RouteSpec<P, B, Q>, status: number): void {
    const operation: OpenApiOperation = {
      summary: spec.summary,
      tags: [spec.tag],
      responses: {
        [String(status)]:
          status === 204 || !spec.response
            ? { description: status === 204 ? "No content" : "Success" }
            : { description: "Success", content: { "application/json": { schema: jsonSchema(spec.response, "output") } } },
        "422": { description: "Validation error: the message names the field" },
      },
    };
    const parameters: unknown[] = [];
    for (const [location, schema] of [
      ["path", spec.params],
      ["query", spec.query],
    ] as const) {
      if (!schema) continue;
      const shape = jsonSchema(schema, "input") as { properties?: Record<string, unknown>; required?: string[] };
      for (const [name, s] of Object.entries(shape.properties ?? {})) {
        parameters.push({ name, in: location, required: location === "path" || (shape.required ?? []).includes(name), schema: s });
      }
    }
    if (parameters.length > 0) operation.parameters = parameters;
    if (spec.body) operation.requestBody = { content: { "application/json": { schema: jsonSchema(spec.body, "input") } } };
    const methods = this.operations.get(spec.path) ?? {};
    methods[spec.method.toLowerCase()] = operation;
    this.operations.set(spec.path, methods);
  }
}

/** Parses `value`; a failure's issue paths are prefixed with where the value came from. */
function parseIn<T>(location: "path" | "query" | "body", schema: ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) issue.path.unshift(location);
  throw result.error;
}

function jsonSchema(schema: ZodType, io: "input" | "output"): unknown {
  try {
    return z.toJSONSchema(schema, { io, unrepresentable: "any" });
  } catch {
    return {};
  }
}
