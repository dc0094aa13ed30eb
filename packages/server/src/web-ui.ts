import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { NotFoundFallback } from "./api/errors.js";
import fastifyStatic from "@fastify/static";
import type { ServerConfig } from "./config.js";

/** Paths that are never the UI's, so an unknown one stays the API's JSON 404. */
const NOT_UI = [/^\/api(\/|$)/, /^\/docs(\/|$)/, /^\/ui-settings$/];

/** Where `npm run build` puts packages/ui's build, or undefined when it is not there. */
export function uiBuildDirectory(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    const dir = join(dirname(require.resolve("@baton/ui/package.json")), "dist");
    return existsSync(join(dir, "index.html")) ? dir : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `GET /ui-settings` as Prefect's server answers it (the UI reads it first to find the API),
 * and, with BATON_UI_ENABLED, the UI's files at `/` with `index.html` for any other GET that
 * asks for HTML (client-side routes such as `/runs/<id>`), but never under /api or /docs.
 */
export async function registerWebUi(app: FastifyInstance, config: ServerConfig, apiPrefix: string): Promise<void> {
  app.get("/ui-settings", (request) => ({
    api_url: config.uiApiUrl ?? `${request.protocol}://${request.host}${apiPrefix}`,
    // Baton does not check CSRF tokens (its /csrf-token route answers for clients that ask).
    csrf_enabled: false,
    auth: null,
    flags: [],
  }));
  if (!config.uiEnabled) return;
  const root = uiBuildDirectory();
  if (!root) {
    app.log.warn("The web UI is not built (packages/ui/dist is missing): run `npm run build` to serve it at /");
    app.get("/", (_request, reply) => reply.code(503).type("text/plain").send("Baton's web UI is not built: run `npm run build`, then restart the server.\n"));
    return;
  }
  await app.register(fastifyStatic, {
    root,
    prefix: "/",
    wildcard: false,
    index: ["index.html"],
    // Hashed asset names never change content; index.html must be fetched again after a build.
    setHeaders: (response, path) => {
      response.setHeader("cache-control", path.includes(`${join(root, "assets")}`) ? "public, max-age=31536000, immutable" : "no-cache");
    },
  });
}

/**
 * The not-found fallback that answers the UI's client-side routes with index.html; the API's
 * JSON 404 for everything else. Undefined when the UI is off or not built.
 */
export function uiNotFoundFallback(config: ServerConfig): NotFoundFallback | undefined {
  if (!config.uiEnabled || !uiBuildDirectory()) return undefined;
  return (request, reply) => {
    if (!isUiRoute(request)) return false;
    void reply.type("text/html").header("cache-control", "no-cache").sendFile("index.html");
    return true;
  };
}

function isUiRoute(request: FastifyRequest): boolean {
  if (request.method !== "GET" && request.method !== "HEAD") return false;
  const path = request.url.split("?")[0] ?? "/";
  if (NOT_UI.some((pattern) => pattern.test(path))) return false;
  // A missing asset file is a real 404, not the app.
  if (/\.[a-z0-9]+$/i.test(path)) return false;
  return true;
}
