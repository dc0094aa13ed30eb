import type { FastifyInstance } from "fastify";
import { API_PREFIX } from "../app.js";

/** A response of the server's own API, as an action sees it. */
export interface ApiResponse {
  status: number;
  body: unknown;
}

/**
 * How actions reach the server's API: through the same routes and orchestration rules as any
 * client (Prefect's actions use an in-process client of its API too), so that a state an
 * action proposes is decided exactly as a worker's would be.
 */
export interface ApiCaller {
  request(method: "GET" | "POST" | "PATCH" | "PUT" | "DELETE", path: string, body?: unknown): Promise<ApiResponse>;
}

/** Calls `app` in process (Fastify's `inject`): no socket, no port. */
export function injectCaller(app: FastifyInstance): ApiCaller {
  return {
    async request(method, path, body) {
      const response = await app.inject({
        method,
        url: `${API_PREFIX}${path}`,
        ...(body === undefined ? {} : { payload: JSON.stringify(body), headers: { "content-type": "application/json" } }),
      });
      let parsed: unknown = null;
      if (response.body.length > 0) {
        try {
          parsed = JSON.parse(response.body);
        } catch {
          parsed = response.body;
        }
      }
      return { status: response.statusCode, body: parsed };
    },
  };
}

/** The reason a failed API call gives, for an action's failure event. */
export function failureReason(response: ApiResponse): string {
  const body = response.body as { detail?: unknown; exception_message?: unknown } | null;
  const detail = body && typeof body === "object" ? (body.exception_message ?? body.detail) : body;
  return `HTTP ${response.status}${detail ? `: ${typeof detail === "string" ? detail : JSON.stringify(detail)}` : ""}`;
}
