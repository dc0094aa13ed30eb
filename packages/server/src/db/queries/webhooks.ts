import { SECRET_PLACEHOLDER, type Webhook, type WebhookCreate, type WebhookUpdate } from "@baton/core";
import { randomBytes } from "node:crypto";
import type { Selectable } from "kysely";
import type { Executor } from "../database.js";
import { newId } from "../json.js";
import type { WebhookTable } from "../schema.js";
import { pageLimit } from "./paging.js";

export type WebhookRow = Selectable<WebhookTable>;

/** The webhook as the API shows it: the secret is never returned, only whether there is one. */
export function webhookFromRow(row: WebhookRow): Webhook {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    description: row.description,
    enabled: Boolean(row.enabled),
    template: row.template,
    slug: row.slug,
    secret: row.secret ? SECRET_PLACEHOLDER : null,
  };
}

/** 16 random bytes: an opaque URL that says nothing about the server (as Prefect Cloud's). */
export function newSlug(): string {
  return randomBytes(16).toString("base64url");
}

export async function createWebhook(db: Executor, input: WebhookCreate): Promise<Webhook> {
  const now = new Date().toISOString();
  const row = await db
    .insertInto("webhook")
    .values({
      id: newId(),
      created: now,
      updated: now,
      name: input.name,
      description: input.description,
      enabled: input.enabled ? 1 : 0,
      template: input.template,
      slug: newSlug(),
      secret: input.secret ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return webhookFromRow(row);
}

export function readWebhookRow(db: Executor, id: string): Promise<WebhookRow | undefined> {
  return db.selectFrom("webhook").selectAll().where("id", "=", id).executeTakeFirst();
}

export function readWebhookRowBySlug(db: Executor, slug: string): Promise<WebhookRow | undefined> {
  return db.selectFrom("webhook").selectAll().where("slug", "=", slug).executeTakeFirst();
}

export async function updateWebhook(db: Executor, id: string, patch: WebhookUpdate & { slug?: string }): Promise<boolean> {
  const set: Partial<WebhookRow> = { updated: new Date().toISOString() };
  if (patch.name !== undefined) set.name = patch.name;
  if (patch.description !== undefined) set.description = patch.description;
  if (patch.enabled !== undefined) set.enabled = patch.enabled ? 1 : 0;
  if (patch.template !== undefined) set.template = patch.template;
  if (patch.slug !== undefined) set.slug = patch.slug;
  if (patch.secret === null) set.secret = null;
  else if (patch.secret !== undefined && patch.secret !== SECRET_PLACEHOLDER) set.secret = patch.secret;
  const result = await db.updateTable("webhook").set(set).where("id", "=", id).executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteWebhook(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom("webhook").where("id", "=", id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

export async function filterWebhooks(db: Executor, page: { limit?: number | null | undefined; offset: number }): Promise<Webhook[]> {
  const rows = await db.selectFrom("webhook").selectAll().orderBy("name").orderBy("id").limit(pageLimit(page.limit)).offset(page.offset).execute();
  return rows.map(webhookFromRow);
}
