import { z } from "zod";
import { Id } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";

/**
 * Inbound webhooks (Prefect Cloud's feature, self-hosted by Baton): `POST /hooks/{slug}` turns
 * an HTTP request into an event by rendering `template`, which must produce the JSON of an
 * event (`event`, `resource`, optionally `related`, `payload`, `occurred`, `id`). The slug is
 * random and chosen by the server; `secret`, when set, must come with every request.
 */
export const SECRET_PLACEHOLDER = "********";

export const Webhook = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    description: z.string(),
    enabled: z.boolean(),
    template: z.string(),
    slug: z.string(),
    /** `"********"` when the webhook has a secret, else null: the secret itself is never returned. */
    secret: z.string().nullable(),
  }));
export type Webhook = z.infer<typeof Webhook>;

const WebhookSecret = lazySchema(() => z.string().min(16, "must be at least 16 characters").max(512));

export const WebhookCreate = lazySchema(() =>
  z.strictObject({
    name: z.string().min(1, "must not be empty").max(500),
    description: z.string().max(10_000).default(""),
    enabled: z.boolean().default(true),
    template: z.string().min(1, "must not be empty").max(100_000),
    secret: WebhookSecret.nullish(),
  }));
export type WebhookCreate = z.output<typeof WebhookCreate>;

export const WebhookUpdate = lazySchema(() =>
  z.strictObject({
    name: z.string().min(1, "must not be empty").max(500).optional(),
    description: z.string().max(10_000).optional(),
    enabled: z.boolean().optional(),
    template: z.string().min(1, "must not be empty").max(100_000).optional(),
    /** null removes the secret; `"********"` (as read back) keeps it. */
    secret: z.union([WebhookSecret, z.literal(SECRET_PLACEHOLDER)]).nullish(),
  }));
export type WebhookUpdate = z.output<typeof WebhookUpdate>;

export const WebhookFilterBody = lazySchema(() =>
  z.strictObject({ offset: z.number().int().min(0).default(0), limit: z.number().int().min(0).max(200).nullish() }));
