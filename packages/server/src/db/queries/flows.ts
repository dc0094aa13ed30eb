import type { Flow, FlowCreate, RunCriteria } from "@baton/core";
import { ObjectNotFoundError } from "@baton/core";
import type { Selectable } from "kysely";
import type { Database, Executor } from "../database.js";
import { countMatching, criteriaConditions } from "../filters.js";
import { fromJson, newId, toJson } from "../json.js";
import { pageLimit } from "./paging.js";
import type { FlowTable } from "../schema.js";

export function flowFromRow(row: Selectable<FlowTable>): Flow {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    tags: fromJson(row.tags, []),
    labels: fromJson(row.labels, {}),
  };
}

/** Creates the flow, or returns the existing one of that name (the contract's upsert). */
export async function createFlow(db: Database, input: { name: string; tags?: string[]; labels?: Record<string, unknown> | null }): Promise<{ flow: Flow; created: boolean }> {
  const now = new Date().toISOString();
  const inserted = await db.kysely
    .insertInto("flow")
    .values({ id: newId(), created: now, updated: now, name: input.name, tags: toJson(input.tags ?? []), labels: toJson(input.labels ?? {}) })
    .onConflict((oc) => oc.column("name").doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { flow: flowFromRow(inserted), created: true };
  const existing = await readFlowByName(db.kysely, input.name);
  if (!existing) throw new ObjectNotFoundError("Flow", input.name);
  return { flow: existing, created: false };
}

export async function readFlow(db: Executor, id: string): Promise<Flow | undefined> {
  const row = await db.selectFrom("flow").selectAll().where("id", "=", id).executeTakeFirst();
  return row && flowFromRow(row);
}

export async function readFlowByName(db: Executor, name: string): Promise<Flow | undefined> {
  const row = await db.selectFrom("flow").selectAll().where("name", "=", name).executeTakeFirst();
  return row && flowFromRow(row);
}

export async function updateFlow(db: Executor, id: string, patch: { tags?: string[] | undefined }): Promise<boolean> {
  const result = await db
    .updateTable("flow")
    .set({ updated: new Date().toISOString(), ...(patch.tags !== undefined ? { tags: toJson(patch.tags) } : {}) })
    .where("id", "=", id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteFlow(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom("flow").where("id", "=", id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Deletes up to `limit` flows matching `criteria` (their runs and deployments go with them); returns their ids. */
export async function deleteFlows(db: Database, criteria: RunCriteria, limit: number): Promise<string[]> {
  let select = db.kysely.selectFrom("flow").select("id");
  for (const cond of criteriaConditions(db.dialect, "flow", criteria)) select = select.where(cond);
  const ids = (await select.orderBy("id").limit(limit).execute()).map((r) => r.id);
  if (ids.length > 0) await db.kysely.deleteFrom("flow").where("id", "in", ids).execute();
  return ids;
}

const FLOW_SORTS = {
  CREATED_DESC: ["created", "desc"],
  UPDATED_DESC: ["updated", "desc"],
  NAME_ASC: ["name", "asc"],
  NAME_DESC: ["name", "desc"],
} as const;
export type FlowSortKey = keyof typeof FLOW_SORTS;

export async function filterFlows(
  db: Database,
  criteria: RunCriteria,
  page: { sort: FlowSortKey; limit?: number | null | undefined; offset: number },
): Promise<Flow[]> {
  const [column, direction] = FLOW_SORTS[page.sort];
  let query = db.kysely.selectFrom("flow").selectAll();
  for (const cond of criteriaConditions(db.dialect, "flow", criteria)) query = query.where(cond);
  query = query.orderBy(column, direction).orderBy("id", "asc").limit(pageLimit(page.limit)).offset(page.offset);
  return (await query.execute()).map(flowFromRow);
}

export function countFlows(db: Database, criteria: RunCriteria): Promise<number> {
  return countMatching(db, "flow", criteria);
}

export type { FlowCreate };
