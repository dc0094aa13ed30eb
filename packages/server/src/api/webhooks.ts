import { Event, InvalidInputError, ObjectNotFoundError, RESOURCE_ID_LABEL, RESOURCE_ROLE_LABEL, Webhook, WebhookCreate, WebhookFilterBody, WebhookUpdate, type ReceivedEvent } from "@baton/core";
import { createHmac, timingSafeEqual } from "node:crypto";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { renderTemplate, TemplateError, validateTemplate } from "../automations/templates.js";
import { createWebhook, deleteWebhook, filterWebhooks, newSlug, readWebhookRow, readWebhookRowBySlug, updateWebhook, webhookFromRow, type WebhookRow } from "../db/queries/webhooks.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

function checkTemplate(template: string | undefined): void {
  if (template === undefined) return;
  const problem = validateTemplate(template);
  if (problem) throw new InvalidInputError("body.template", `is not a valid template${problem.line ? ` (line ${problem.line})` : ""}: ${problem.message}`);
}

/** `/api/webhooks/...`: managing inbound webhooks (Baton's own API; Prefect Cloud has the same objects). */
export function registerWebhookRoutes({ router, db }: ApiContext): void {
  const tag = "Webhooks";
  router.route({
    method: "POST",
    path: "/webhooks/",
    tag,
    summary: "Create an inbound webhook: requests to /hooks/{slug} become events through its template",
    body: WebhookCreate,
    response: Webhook,
    status: 201,
    handler: ({ body }) => {
      checkTemplate(body.template);
      return createWebhook(db.kysely, body);
    },
  });
  router.route({
    method: "GET",
    path: "/webhooks/{id}",
    tag,
    summary: "Read a webhook (its secret obfuscated)",
    params: IdParams,
    response: Webhook,
    handler: async ({ params }) => webhookFromRow((await readWebhookRow(db.kysely, params.id)) ?? notFound(params.id)),
  });
  router.route({
    method: "PATCH",
    path: "/webhooks/{id}",
    tag,
    summary: "Update a webhook's name, description, template, secret or enabled flag",
    params: IdParams,
    body: WebhookUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      checkTemplate(body.template);
      if (!(await updateWebhook(db.kysely, params.id, body))) notFound(params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/webhooks/{id}/rotate",
    tag,
    summary: "Give a webhook a new random slug (the old URL stops working)",
    params: IdParams,
    response: Webhook,
    handler: async ({ params }) => {
      if (!(await updateWebhook(db.kysely, params.id, { slug: newSlug() }))) notFound(params.id);
      return webhookFromRow((await readWebhookRow(db.kysely, params.id))!);
    },
  });
  router.route({
    method: "DELETE",
    path: "/webhooks/{id}",
    tag,
    summary: "Delete a webhook",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteWebhook(db.kysely, params.id))) notFound(params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/webhooks/filter",
    tag,
    summary: "List webhooks by name",
    body: WebhookFilterBody,
    response: z.array(Webhook),
    handler: ({ body }) => filterWebhooks(db.kysely, body),
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Webhook", id);
}

/** Where a request may carry a webhook's secret: as the secret itself, or as an HMAC-SHA256 of the body. */
const SECRET_HEADER = "x-baton-webhook-secret";
const SIGNATURE_HEADERS = ["x-baton-signature-256", "x-hub-signature-256"];

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

function authorized(webhook: WebhookRow, request: FastifyRequest, raw: Buffer): boolean {
  if (!webhook.secret) return true;
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const given = header(SECRET_HEADER) ?? header("authorization")?.replace(/^Bearer\s+/i, "");
  if (given !== undefined && sameText(given, webhook.secret)) return true;
  const expected = `sha256=${createHmac("sha256", webhook.secret).update(raw).digest("hex")}`;
  return SIGNATURE_HEADERS.some((name) => {
    const signature = header(name);
    return signature !== undefined && sameText(signature.toLowerCase(), expected);
  });
}

/** The request body as templates see it: parsed JSON, a form's fields, or the text. */
function parsedBody(request: FastifyRequest, raw: Buffer): unknown {
  const type = String(request.headers["content-type"] ?? "").toLowerCase();
  const text = raw.toString("utf8");
  if (type.includes("json")) {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new WebhookRequestError("the body is not valid JSON");
    }
  }
  if (type.includes("application/x-www-form-urlencoded")) return Object.fromEntries(new URLSearchParams(text));
  return text;
}

class WebhookRequestError extends Error {}

/** An event from the rendered template: defaults filled in (id, now), the webhook added as a related resource. */
function eventFromRendered(rendered: string, webhook: WebhookRow, now: Date): ReceivedEvent {
  let value: unknown;
  try {
    value = JSON.parse(rendered);
  } catch {
    throw new WebhookRequestError(`the template did not render JSON: ${rendered.slice(0, 200)}`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) throw new WebhookRequestError("the template must render a JSON object (an event)");
  const candidate = { id: crypto.randomUUID(), occurred: now.toISOString(), ...(value as Record<string, unknown>) };
  const parsed = Event.safeParse(candidate);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new WebhookRequestError(`the template's event is invalid: ${issue.path.join(".") || "event"}: ${issue.message}`);
  }
  const event = parsed.data;
  return {
    ...event,
    follows: event.follows ?? null,
    related: [
      ...event.related,
      { [RESOURCE_ID_LABEL]: `baton.webhook.${webhook.id}`, [RESOURCE_ROLE_LABEL]: "webhook", "prefect.resource.name": webhook.name },
    ],
    received: now.toISOString(),
  };
}

/**
 * `/hooks/{slug}` (outside `/api`, as Prefect Cloud's): any of GET, HEAD, POST, PUT, PATCH,
 * DELETE, with any body. The request is rendered through the webhook's template into an
 * event, which is stored and published like one sent to `POST /api/events`. Answers 204 with
 * the event's id in `X-Baton-Event-Id`; 404 for an unknown or disabled slug, 401 for a missing
 * or wrong secret, 400 (saying why) when the template cannot make an event of the request.
 */
export async function registerHookReceiver(app: FastifyInstance, { db, events }: Pick<ApiContext, "db" | "events">): Promise<void> {
  await app.register(async (scope) => {
    // Webhooks accept whatever other systems send; the raw bytes are kept for the signature.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
    const handler = async (request: FastifyRequest, reply: FastifyReply) => {
      const { slug } = request.params as { slug: string };
      const webhook = await readWebhookRowBySlug(db.kysely, slug);
      if (!webhook || !webhook.enabled) return reply.code(404).send({ detail: "Not Found" });
      const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
      if (!authorized(webhook, request, raw)) return reply.code(401).send({ detail: "Missing or wrong webhook secret" });
      const now = new Date();
      let event: ReceivedEvent;
      try {
        const url = new URL(request.url, "http://localhost");
        const headers = Object.fromEntries(Object.entries(request.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(", ") : String(v ?? "")]));
        const body = parsedBody(request, raw);
        const rendered = renderTemplate(webhook.template, {
          body,
          raw_body: raw.toString("utf8"),
          headers,
          query: Object.fromEntries(url.searchParams),
          method: request.method,
          request: { method: request.method, path: url.pathname, headers, body },
          webhook: { id: webhook.id, name: webhook.name, slug: webhook.slug },
          now: now.toISOString(),
        });
        event = eventFromRendered(rendered, webhook, now);
      } catch (error) {
        if (error instanceof WebhookRequestError) return reply.code(400).send({ detail: error.message });
        if (error instanceof TemplateError) return reply.code(400).send({ detail: `the webhook's template failed: ${error.message}` });
        throw error;
      }
      // Published like any event: the persister stores it, the trigger engine evaluates it.
      await events.publish([event]);
      return reply.code(204).header("x-baton-event-id", event.id).send();
    };
    scope.route({ method: ["GET", "POST", "PUT", "PATCH", "DELETE"], url: "/hooks/:slug", handler });
  });
}
