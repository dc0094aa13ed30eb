import { ConflictError, type FlowRunInput } from "@baton/core";
import { sql, type Selectable } from "kysely";
import type { Executor } from "../database.js";
import { newId } from "../json.js";
import type { FlowRunInputTable } from "../schema.js";

function inputFromRow(row: Selectable<FlowRunInputTable>): FlowRunInput {
  return { id: row.id, created: row.created, updated: row.updated, flow_run_id: row.flow_run_id, key: row.key, value: row.value, sender: row.sender };
}

/** Stores an input under a key of the run; a key already used is a 409, as Prefect answers. */
export async function createFlowRunInput(db: Executor, flowRunId: string, input: { key: string; value: string; sender?: string | null | undefined }): Promise<FlowRunInput> {
  const now = new Date().toISOString();
  const row = await db
    .insertInto("flow_run_input")
    .values({ id: newId(), created: now, updated: now, flow_run_id: flowRunId, key: input.key, value: input.value, sender: input.sender ?? null })
    .onConflict((oc) => oc.columns(["flow_run_id", "key"]).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) throw new ConflictError(`The flow run already has an input with the key '${input.key}'`);
  return inputFromRow(row);
}

export async function readFlowRunInput(db: Executor, flowRunId: string, key: string): Promise<FlowRunInput | undefined> {
  const row = await db.selectFrom("flow_run_input").selectAll().where("flow_run_id", "=", flowRunId).where("key", "=", key).executeTakeFirst();
  return row && inputFromRow(row);
}

export async function deleteFlowRunInput(db: Executor, flowRunId: string, key: string): Promise<boolean> {
  const result = await db.deleteFrom("flow_run_input").where("flow_run_id", "=", flowRunId).where("key", "=", key).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** The run's inputs whose key starts with `prefix`, oldest first, without `excludeKeys`. */
export async function filterFlowRunInputs(db: Executor, flowRunId: string, filter: { prefix: string; limit: number; exclude_keys: string[] }): Promise<FlowRunInput[]> {
  let query = db
    .selectFrom("flow_run_input")
    .selectAll()
    .where("flow_run_id", "=", flowRunId)
    // A prefix compared exactly (LIKE would be case-insensitive on SQLite only).
    .where(sql<boolean>`substr(key, 1, ${filter.prefix.length}) = ${filter.prefix}`);
  if (filter.exclude_keys.length > 0) query = query.where("key", "not in", filter.exclude_keys);
  return (await query.orderBy("created").orderBy("id").limit(filter.limit).execute()).map(inputFromRow);
}
