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
import { unstorableJson } from "./validation/unstorable-json.js";

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

function httpError(statusCode: number, message: string): Error {
  return Object.assign(new Error(message), { statusCode });
}
