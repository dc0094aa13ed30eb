import {
  allTriggers,
  type Action,
  type Automation,
  type AutomationCreate,
  type AutomationFilter,
  type AutomationSort,
  type AutomationUpdate,
  type Trigger,
} from "@baton/core";
import { sql, type Selectable } from "kysely";
import type { Database, Executor } from "../database.js";
import { anyOf, combine, type Cond } from "../filters.js";
import { fromJson, newId, toJson } from "../json.js";
import type { AutomationTable } from "../schema.js";
import { pageLimit } from "./paging.js";

export function automationFromRow(row: Selectable<AutomationTable>): Automation {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    description: row.description,
    enabled: Boolean(row.enabled),
    tags: fromJson<string[]>(row.tags, []),
    trigger: fromJson<Trigger>(row.trigger, null as unknown as Trigger),
    actions: fromJson<Action[]>(row.actions, []),
    actions_on_trigger: fromJson<Action[]>(row.actions_on_trigger, []),
    actions_on_resolve: fromJson<Action[]>(row.actions_on_resolve, []),
  };
}

/**
 * The resources an automation's actions name (a deployment it runs, a work pool it pauses...),
 * as Prefect records them so that `related-to` finds the automations that act on a resource.
 */
export function relatedResourceIds(automation: Pick<Automation, "actions" | "actions_on_trigger" | "actions_on_resolve">): string[] {
  const ids = new Set<string>();
  for (const action of [...automation.actions, ...automation.actions_on_trigger, ...automation.actions_on_resolve]) {
    switch (action.type) {
      case "run-deployment":
      case "pause-deployment":
      case "resume-deployment":
        if (action.source === "selected" && action.deployment_id) ids.add(`prefect.deployment.${action.deployment_id}`);
        break;
      case "pause-work-queue":
      case "resume-work-queue":
        if (action.source === "selected" && action.work_queue_id) ids.add(`prefect.work-queue.${action.work_queue_id}`);
        break;
      case "pause-work-pool":
      case "resume-work-pool":
        if (action.source === "selected" && action.work_pool_id) ids.add(`prefect.work-pool.${action.work_pool_id}`);
        break;
      case "pause-automation":
      case "resume-automation":
        if (action.source === "selected" && action.automation_id) ids.add(`prefect.automation.${action.automation_id}`);
        break;
      case "send-notification":
      case "call-webhook":
        ids.add(`prefect.block-document.${action.block_document_id}`);
        break;
      default:
        break;
    }
  }
  return [...ids];
}

/** Triggers keep the ids they were given; two triggers of one automation may not share one. */
export function duplicateTriggerId(trigger: Trigger): string | undefined {
  const seen = new Set<string>();
  for (const t of allTriggers(trigger)) {
    if (seen.has(t.id)) return t.id;
    seen.add(t.id);
  }
  return undefined;
}

async function writeRelatedResources(trx: Executor, automationId: string, automation: AutomationUpdate, owner: string | null | undefined, now: string): Promise<void> {
  // Keep the owner across updates; every other relation is derived from the actions again.
  const existingOwner = owner === undefined
    ? await trx
        .selectFrom("automation_related_resource")
        .select("resource_id")
        .where("automation_id", "=", automationId)
        .where("automation_owned_by_resource", "=", 1)
        .executeTakeFirst()
    : undefined;
  const ownerId = owner ?? existingOwner?.resource_id ?? null;
  await trx.deleteFrom("automation_related_resource").where("automation_id", "=", automationId).execute();
  const rows = new Map<string, boolean>();
  for (const id of relatedResourceIds(automation)) rows.set(id, false);
  if (ownerId) rows.set(ownerId, true);
  if (rows.size === 0) return;
  await trx
    .insertInto("automation_related_resource")
    .values(
      [...rows].map(([resource_id, owned]) => ({
        id: newId(),
        created: now,
        updated: now,
        automation_id: automationId,
        resource_id,
        automation_owned_by_resource: owned ? 1 : 0,
      })),
    )
    .execute();
}

export async function createAutomation(db: Database, input: AutomationCreate): Promise<Automation> {
  const now = new Date().toISOString();
  const id = newId();
  const row = await db.write(async (trx) => {
    const inserted = await trx
      .insertInto("automation")
      .values({
        id,
        created: now,
        updated: now,
        name: input.name,
        description: input.description,
        enabled: input.enabled ? 1 : 0,
        tags: toJson(input.tags),
        trigger: toJson(input.trigger),
        actions: toJson(input.actions),
        actions_on_trigger: toJson(input.actions_on_trigger),
        actions_on_resolve: toJson(input.actions_on_resolve),
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await writeRelatedResources(trx, id, input, input.owner_resource ?? null, now);
    return inserted;
  });
  return automationFromRow(row);
}

export async function readAutomation(db: Executor, id: string): Promise<Automation | undefined> {
  const row = await db.selectFrom("automation").selectAll().where("id", "=", id).executeTakeFirst();
  return row && automationFromRow(row);
}

/** Replaces an automation (PUT). Its trigger state is dropped: the new trigger starts afresh. */
export async function replaceAutomation(db: Database, id: string, input: AutomationUpdate): Promise<boolean> {
  const now = new Date().toISOString();
  return db.write(async (trx) => {
    const result = await trx
      .updateTable("automation")
      .set({
        updated: now,
        name: input.name,
        description: input.description,
        enabled: input.enabled ? 1 : 0,
        tags: toJson(input.tags),
        trigger: toJson(input.trigger),
        actions: toJson(input.actions),
        actions_on_trigger: toJson(input.actions_on_trigger),
        actions_on_resolve: toJson(input.actions_on_resolve),
      })
      .where("id", "=", id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    await writeRelatedResources(trx, id, input, undefined, now);
    await clearTriggerState(trx, id);
    return true;
  });
}

/** Enables or disables an automation (PATCH); disabling forgets its trigger state, as Prefect does. */
export async function setAutomationEnabled(db: Database, id: string, enabled: boolean): Promise<boolean> {
  return db.write(async (trx) => {
    const result = await trx
      .updateTable("automation")
      .set({ enabled: enabled ? 1 : 0, updated: new Date().toISOString() })
      .where("id", "=", id)
      .executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    if (!enabled) await clearTriggerState(trx, id);
    return true;
  });
}

async function clearTriggerState(trx: Executor, automationId: string): Promise<void> {
  await trx.deleteFrom("automation_bucket").where("automation_id", "=", automationId).execute();
  await trx.deleteFrom("composite_trigger_child_firing").where("automation_id", "=", automationId).execute();
  await trx.deleteFrom("automation_trigger_state").where("automation_id", "=", automationId).execute();
}

export async function deleteAutomation(db: Database, id: string): Promise<boolean> {
  return db.write(async (trx) => {
    // Children first: SQLite enforces the cascade only with foreign keys switched on.
    await clearTriggerState(trx, id);
    await trx.deleteFrom("automation_related_resource").where("automation_id", "=", id).execute();
    const result = await trx.deleteFrom("automation").where("id", "=", id).executeTakeFirst();
    return result.numDeletedRows > 0n;
  });
}

function automationConditions(db: Database, f: AutomationFilter | null | undefined): Cond | null {
  if (!f) return null;
  const d = db.dialect;
  const tags = f.tags
    ? combine(f.tags.operator, [
        f.tags.all_ != null ? d.jsonArrayContainsAll("automation.tags", f.tags.all_) : null,
        f.tags.any_ != null ? d.jsonArrayContainsAny("automation.tags", f.tags.any_) : null,
        f.tags.is_null_ == null ? null : f.tags.is_null_ ? d.jsonArrayIsEmpty("automation.tags") : sql<boolean>`NOT ${d.jsonArrayIsEmpty("automation.tags")}`,
      ])
    : null;
  return combine(f.operator, [
    anyOf("automation.name", f.name?.any_),
    f.created?.before_ ? sql<boolean>`automation.created <= ${f.created.before_}` : null,
    tags,
  ]);
}

const SORTS = {
  CREATED_DESC: ["created", "desc"],
  UPDATED_DESC: ["updated", "desc"],
  NAME_ASC: ["name", "asc"],
  NAME_DESC: ["name", "desc"],
} as const;

export async function filterAutomations(
  db: Database,
  filter: AutomationFilter | null | undefined,
  page: { sort: AutomationSort; limit?: number | null | undefined; offset: number },
): Promise<Automation[]> {
  const [column, direction] = SORTS[page.sort];
  let query = db.kysely.selectFrom("automation").selectAll();
  const cond = automationConditions(db, filter);
  if (cond) query = query.where(cond);
  query = query.orderBy(column, direction).orderBy("id", direction).limit(pageLimit(page.limit)).offset(page.offset);
  return (await query.execute()).map(automationFromRow);
}

export async function countAutomations(db: Database, filter: AutomationFilter | null | undefined): Promise<number> {
  let query = db.kysely.selectFrom("automation").select((eb) => eb.fn.countAll<number>().as("n"));
  const cond = automationConditions(db, filter);
  if (cond) query = query.where(cond);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

/** Every automation (the trigger engine loads them all at start). */
export async function readAllAutomations(db: Executor): Promise<Automation[]> {
  return (await db.selectFrom("automation").selectAll().orderBy("id").execute()).map(automationFromRow);
}

/** A cheap fingerprint of the automation table: engines in other processes reload when it changes. */
export async function automationsVersion(db: Executor): Promise<string> {
  const row = await db
    .selectFrom("automation")
    .select((eb) => [eb.fn.countAll<number | string>().as("n"), eb.fn.max("updated").as("latest")])
    .executeTakeFirstOrThrow();
  return `${String(row.n)}/${String(row.latest ?? "")}`;
}

export async function automationsRelatedTo(db: Executor, resourceId: string): Promise<Automation[]> {
  const rows = await db
    .selectFrom("automation")
    .selectAll("automation")
    .where("id", "in", db.selectFrom("automation_related_resource").select("automation_id").where("resource_id", "=", resourceId))
    .orderBy("name")
    .orderBy("id")
    .execute();
  return rows.map(automationFromRow);
}

/** Deletes the automations a resource owns (a deployment's triggers, when the deployment goes). */
export async function deleteAutomationsOwnedBy(db: Database, resourceId: string): Promise<string[]> {
  const owned = await db.kysely
    .selectFrom("automation_related_resource")
    .select("automation_id")
    .where("resource_id", "=", resourceId)
    .where("automation_owned_by_resource", "=", 1)
    .execute();
  const ids = owned.map((r) => r.automation_id);
  for (const id of ids) await deleteAutomation(db, id);
  return ids;
}
