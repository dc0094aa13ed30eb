import { PREFECT_SERVER_VERSION } from "@baton/core";
import { sql } from "kysely";
import { z } from "zod";
import { describeConfig } from "../config.js";
import type { ApiContext } from "./context.js";

/** Liveness, readiness, versions and the CSRF token endpoint Prefect's UI calls. */
export function registerRootRoutes({ router, db, config }: ApiContext): void {
  router.route({ method: "GET", path: "/health", tag: "Root", summary: "Health check", response: z.boolean(), handler: () => true });
  router.route({ method: "GET", path: "/version", tag: "Root", summary: "Server version", response: z.string(), handler: () => PREFECT_SERVER_VERSION });
  router.route({ method: "GET", path: "/hello", tag: "Root", summary: "Say hello", response: z.string(), handler: () => "👋" });
  router.route({
    method: "GET",
    path: "/ready",
    tag: "Root",
    summary: "Ready when the database answers",
    response: z.object({ message: z.string() }),
    handler: async ({ reply }) => {
      try {
        await sql`SELECT 1`.execute(db.kysely);
        return { message: "OK" };
      } catch {
        reply.code(503);
        return { message: "Database is not reachable" };
      }
    },
  });
  router.route({
    method: "GET",
    path: "/admin/version",
    tag: "Admin",
    summary: "Server version",
    response: z.string(),
    handler: () => PREFECT_SERVER_VERSION,
  });
  router.route({
    method: "GET",
    path: "/admin/settings",
    tag: "Admin",
    summary: "The server's settings, as `baton config view` shows them (database passwords masked)",
    response: z.record(z.string(), z.string()),
    handler: () => Object.fromEntries(describeConfig(config).map(({ setting, value }) => [setting, value])),
  });
  router.route({
    method: "GET",
    path: "/csrf-token",
    tag: "Root",
    summary: "CSRF token for a client (Baton does not enforce CSRF; a token is issued for clients that ask)",
    query: z.object({ client: z.string().min(1, "must not be empty") }),
    handler: ({ query }) => {
      const now = new Date();
      return {
        id: crypto.randomUUID(),
        created: now.toISOString(),
        updated: now.toISOString(),
        token: crypto.randomUUID().replace(/-/g, ""),
        client: query.client,
        expiration: new Date(now.getTime() + 3600_000).toISOString(),
      };
    },
  });
}
