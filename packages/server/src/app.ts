import Fastify, { LogController, type FastifyInstance } from "fastify";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import { BATON_VERSION } from "@baton/core";
import type { ServerConfig } from "./config.js";
import type { Database } from "./db/database.js";
import { registerCollectionRoutes } from "./api/collections.js";
import { registerDeploymentRoutes } from "./api/deployments.js";
import { registerDeploymentScheduleRoutes } from "./api/deployment-schedules.js";
import { installErrorHandling } from "./api/errors.js";
import { registerFlowRoutes } from "./api/flows.js";
import { registerFlowRunRoutes } from "./api/flow-runs.js";
import { registerFlowRunGraphRoutes } from "./api/flow-run-graphs.js";
import { registerFlowRunInputRoutes } from "./api/flow-run-inputs.js";
import { registerEventRoutes } from "./api/events.js";
import { registerLogRoutes } from "./api/logs.js";
import { registerRootRoutes } from "./api/root.js";
import { registerAdminStorageRoutes } from "./api/admin-storage.js";
import { ApiRouter } from "./api/route.js";
import { registerSavedSearchRoutes } from "./api/saved-searches.js";
import { registerStateRoutes } from "./api/states.js";
import { registerTaskRunRoutes } from "./api/task-runs.js";
import { registerUiRoutes } from "./api/ui.js";
import { registerVariableRoutes } from "./api/variables.js";
import { registerGlobalConcurrencyLimitRoutes } from "./api/global-concurrency-limits.js";
import { registerTagConcurrencyLimitRoutes } from "./api/tag-concurrency-limits.js";
import { registerArtifactRoutes } from "./api/artifacts.js";
import { registerWorkPoolRoutes } from "./api/work-pools.js";
import { registerWorkQueueRoutes } from "./api/work-queues.js";
import { registerBlockRoutes } from "./api/blocks.js";
import { registerTaskRunSubscriptionRoutes } from "./api/task-run-subscriptions.js";
import { registerTaskWorkerRoutes } from "./api/task-workers.js";
import { BackgroundTasks } from "./background/background-tasks.js";
import { registerAutomationRoutes } from "./api/automations.js";
import { registerHookReceiver, registerWebhookRoutes } from "./api/webhooks.js";
import type { EventStream } from "./events/event-stream.js";
import { registerWebUi, uiNotFoundFallback } from "./web-ui.js";
import { LogWriter } from "./logs/log-writer.js";
import { registerEventWebsocketRoutes } from "./api/events-websockets.js";
import { registerLogWebsocketRoutes } from "./api/logs-websockets.js";

export const API_PREFIX = "/api";

/**
 * Builds the HTTP app: JSON parsing, error mapping, every route module, and the OpenAPI
 * document with its docs page. Route modules live in `api/`, one per resource, named after
 * the path they serve (`/api/flow_runs/...` is `api/flow-runs.ts`).
 */
export async function buildApp(config: ServerConfig, db: Database, events: EventStream): Promise<FastifyInstance> {
  const app = Fastify({
    logger: config.logLevel === "silent" ? false : { level: config.logLevel },
    // One log line per request would cost more than the request itself on hot paths.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    // FastAPI (and so Prefect) route "/flows/" and "/flows" alike; clients use both.
    routerOptions: { ignoreTrailingSlash: true },
  });
  installJsonParser(app);
  installErrorHandling(app, uiNotFoundFallback(config));

  const router = new ApiRouter(app, API_PREFIX);
  const backgroundTasks = new BackgroundTasks(db, config.taskWorkerGraceSeconds, app.log, events);
  app.addHook("onClose", () => backgroundTasks.close());
  // Background task runs waiting from before this start are delivered again.
  await backgroundTasks.restore();
  await registerTaskRunSubscriptionRoutes(app, API_PREFIX, backgroundTasks);
  const logWriter = new LogWriter(db, events.logs, (error) => app.log.error({ err: error }, "publishing logs failed"));
  const context = { router, db, config, backgroundTasks, events, logWriter };
  registerEventWebsocketRoutes(app, API_PREFIX, context);
  registerLogWebsocketRoutes(app, API_PREFIX, context);
  registerRootRoutes(context);
  registerAdminStorageRoutes(context);
  registerFlowRoutes(context);
  registerFlowRunRoutes(context);
  registerFlowRunGraphRoutes(context);
  registerFlowRunInputRoutes(context);
  registerTaskRunRoutes(context);
  registerStateRoutes(context);
  registerDeploymentRoutes(context);
  registerDeploymentScheduleRoutes(context);
  registerLogRoutes(context);
  registerEventRoutes(context);
  registerWorkPoolRoutes(context);
  registerWorkQueueRoutes(context);
  registerSavedSearchRoutes(context);
  registerCollectionRoutes(context);
  await registerBlockRoutes(context);
  registerUiRoutes(context);
  registerVariableRoutes(context);
  registerArtifactRoutes(context);
  registerGlobalConcurrencyLimitRoutes(context);
  registerTagConcurrencyLimitRoutes(context);
  registerTaskWorkerRoutes(context);
  registerAutomationRoutes(context);
  registerWebhookRoutes(context);
  await registerHookReceiver(app, context);

  const document = router.openApiDocument({ title: "Baton API", version: BATON_VERSION });
  app.get(`${API_PREFIX}/openapi.json`, () => document);
  await app.register(swagger, { mode: "static", specification: { document: document as never } });
  await app.register(swaggerUi, { routePrefix: "/docs" });
  await registerWebUi(app, config, API_PREFIX);
  return app;
}

/**
 * JSON bodies are parsed here rather than by Fastify's default so that an empty body counts
 * as no body (some clients send `content-type: application/json` with nothing) and a
 * malformed one is a 400 that says so.
 */
function installJsonParser(app: FastifyInstance): void {
  // Only JSON is spoken; anything else is a 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_request, body, done) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (text.trim() === "") return done(null, undefined);
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      return done(httpError(400, `Malformed JSON body: ${(error as Error).message}`), undefined);
    }
    const problem = unstorableJson(text, parsed);
    if (problem) return done(httpError(422, `Invalid request: ${problem}`), undefined);
    done(null, parsed);
  });
}

/** Deeper bodies are refused: nothing in the API needs them, and they can exhaust the stack. */
const MAX_JSON_DEPTH = 64;

/**
 * What in a parsed body neither database could store: nesting beyond MAX_JSON_DEPTH, or a NUL
 * character (PostgreSQL refuses it in text and JSON; it is refused on both databases so they
 * behave alike). Most bodies are cleared without building a path per value (that walk was a
 * tenth of the server's time on a 5,000-task flow's event batches): JSON text cannot hold a
 * raw NUL, so a body without the escape `\u0000` has none, and only depth is left to check.
 */
function unstorableJson(text: string, value: unknown): string | undefined {
  if (!text.includes("\\u0000") && withinDepth(value, 1)) return undefined;
  return describeUnstorable(value);
}

/** No object or array nested deeper than MAX_JSON_DEPTH (the body itself is level 1). */
function withinDepth(node: unknown, level: number): boolean {
  if (node === null || typeof node !== "object") return true;
  if (level > MAX_JSON_DEPTH) return false;
  if (Array.isArray(node)) {
    for (let i = 0; i < node.length; i++) if (!withinDepth(node[i], level + 1)) return false;
    return true;
  }
  for (const key in node) if (!withinDepth((node as Record<string, unknown>)[key], level + 1)) return false;
  return true;
}

/** The problem and where it is, walked without recursion. */
function describeUnstorable(value: unknown): string | undefined {
  const stack: Array<[unknown, string[]]> = [[value, ["body"]]];
  while (stack.length > 0) {
    const [node, path] = stack.pop()!;
    if (typeof node === "string") {
      if (node.includes("\u0000")) return `${path.join(".")}: strings may not contain NUL (\\u0000) characters`;
      continue;
    }
    if (node === null || typeof node !== "object") continue;
    if (path.length > MAX_JSON_DEPTH) return `${path.slice(0, 3).join(".")}...: nested deeper than ${MAX_JSON_DEPTH} levels`;
    for (const [key, child] of Object.entries(node)) {
      if (key.includes("\u0000")) return `${path.join(".")}: keys may not contain NUL (\\u0000) characters`;
      stack.push([child, [...path, key]]);
    }
  }
  return undefined;
}

function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}
