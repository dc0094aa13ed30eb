import type { State, StateDetails, StateType } from "@baton/core";
import { sql, type Selectable } from "kysely";
import type { Executor } from "../database.js";
import { fromJson, toJson } from "../json.js";
import type { StateTable } from "../schema.js";

export type RunKind = "flow_run" | "task_run";
export const STATE_TABLE = { flow_run: "flow_run_state", task_run: "task_run_state" } as const;

export function stateFromRow(row: Selectable<StateTable>): State {
  return {
    id: row.id,
    type: row.type as StateType,
    name: row.name,
    timestamp: row.timestamp,
    message: row.message,
    data: fromJson(row.data, null),
    state_details: fromJson<StateDetails>(row.state_details, {}),
  };
}

/** A state as a row of a state table. */
export function stateRow(state: State, runId: string): Selectable<StateTable> {
  return {
    id: state.id,
    created: state.timestamp,
    run_id: runId,
    type: state.type,
    name: state.name,
    timestamp: state.timestamp,
    message: state.message,
    data: state.data === undefined || state.data === null ? null : toJson(state.data),
    state_details: toJson(state.state_details),
  };
}

export const STATE_COLUMNS = ["id", "created", "run_id", "type", "name", "timestamp", "message", "data", "state_details"] as const;

/**
 * PostgreSQL: `state` as a SELECT yielding one state row per row of the CTE `source` (whose
 * `id` becomes the run id), so a run write and its state insert can be one statement.
 */
export function stateRowFrom(state: State, source: string) {
  const s = stateRow(state, "");
  return sql`SELECT ${s.id}::uuid, ${s.created}::timestamptz, ${sql.ref(`${source}.id`)}, ${s.type}, ${s.name}, ${s.timestamp}::timestamptz, ${s.message}, ${s.data}::jsonb, ${s.state_details}::jsonb FROM ${sql.table(source)}`;
}

export async function insertState(db: Executor, kind: RunKind, runId: string, state: State): Promise<void> {
  await db.insertInto(STATE_TABLE[kind]).values(stateRow(state, runId)).execute();
}

export async function readState(db: Executor, kind: RunKind, id: string): Promise<State | undefined> {
  const row = await db.selectFrom(STATE_TABLE[kind]).selectAll().where("id", "=", id).executeTakeFirst();
  return row && stateFromRow(row);
}

/** A run's states, oldest first. */
export async function listStates(db: Executor, kind: RunKind, runId: string): Promise<State[]> {
  const rows = await db.selectFrom(STATE_TABLE[kind]).selectAll().where("run_id", "=", runId).orderBy("timestamp").orderBy("id").execute();
  return rows.map(stateFromRow);
}
