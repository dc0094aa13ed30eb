import type { State, StateCreate } from "@baton/core";
import type { Selectable } from "kysely";
import type { Database } from "../db/database.js";
import { STATE_COLUMNS, STATE_TABLE, stateRow, stateRowFrom } from "../db/queries/states.js";
import type { FlowRunTable, TaskRunTable } from "../db/schema.js";
import { bookkeeping } from "./bookkeeping.js";
import { flowRunPolicy, taskRunPolicy } from "../db/queries/runs.js";
import type { OrchestratedRun } from "./context.js";
import { stateFromProposal } from "./state-factory.js";
import type { EventStream } from "../events/event-stream.js";
import { emitRunStateChanges } from "../events/state-change-events.js";

export type NewRun = { kind: "flow_run"; row: Selectable<FlowRunTable> } | { kind: "task_run"; row: Selectable<TaskRunTable> };

/**
 * Inserts a run together with its first state. The first state is not judged by the rules
 * (a new run has no state to protect, as Prefect's forced initial state), but gets the same
 * bookkeeping as any transition. A run whose idempotency key (flow runs) or
 * flow_run_id/task_key/dynamic_key (task runs) already exists is not inserted again: the
 * existing row comes back with `created: false`.
 *
 * PostgreSQL does it in one statement; SQLite in one short transaction.
 */
export async function createRunWithState(
  db: Database,
  run: NewRun,
  proposal: StateCreate,
  events?: EventStream,
): Promise<{ row: Selectable<FlowRunTable> | Selectable<TaskRunTable>; created: boolean }> {
  const now = new Date();
  const runRef = run.kind === "flow_run" ? { flow_run_id: run.row.id } : { task_run_id: run.row.id, flow_run_id: run.row.flow_run_id };
  const state = stateFromProposal(proposal, now, runRef);
  const orchestrated = (
    run.kind === "flow_run"
      ? { kind: run.kind, row: run.row, policy: flowRunPolicy(run.row) }
      : { kind: run.kind, row: run.row, policy: taskRunPolicy(run.row) }
  ) as OrchestratedRun;
  const row = { ...run.row, ...bookkeeping(orchestrated, null, state) } as Selectable<FlowRunTable> & Selectable<TaskRunTable>;

  const inserted = db.dialect.name === "postgres" ? await insertPostgres(db, run.kind, row, state) : await insertSqlite(db, run.kind, row, state);
  if (inserted) {
    await emitRunStateChanges(db, events, [{ kind: run.kind, row: inserted, initial: null, validated: state }]);
    return { row: inserted, created: true };
  }
  const existing = await findExisting(db, run);
  if (!existing) throw new Error("run insert conflicted but no existing run was found");
  return { row: existing, created: false };
}

async function insertSqlite(db: Database, kind: NewRun["kind"], row: Selectable<FlowRunTable> & Selectable<TaskRunTable>, state: State) {
  return db.write(async (trx) => {
    const insert =
      kind === "flow_run"
        ? trx.insertInto("flow_run").values(row as Selectable<FlowRunTable>).onConflict((oc) => oc.columns(["flow_id", "idempotency_key"]).doNothing())
        : trx.insertInto("task_run").values(row as Selectable<TaskRunTable>).onConflict((oc) => oc.columns(["flow_run_id", "task_key", "dynamic_key"]).doNothing());
    const result = await insert.executeTakeFirst();
    if ((result.numInsertedOrUpdatedRows ?? 0n) === 0n) return undefined;
    await trx.insertInto(STATE_TABLE[kind]).values(stateRow(state, row.id)).execute();
    return row;
  });
}

async function insertPostgres(db: Database, kind: NewRun["kind"], row: Selectable<FlowRunTable> & Selectable<TaskRunTable>, state: State) {
  const stateSelect = stateRowFrom(state, "inserted");
  if (kind === "flow_run") {
    return db.kysely
      .with("inserted", (qb) =>
        qb
          .insertInto("flow_run")
          .values(row as Selectable<FlowRunTable>)
          .onConflict((oc) => oc.columns(["flow_id", "idempotency_key"]).doNothing())
          .returningAll(),
      )
      .with("state_row", (qb) => qb.insertInto("flow_run_state").columns(STATE_COLUMNS).expression(stateSelect))
      .selectFrom("inserted")
      .selectAll()
      .executeTakeFirst();
  }
  return db.kysely
    .with("inserted", (qb) =>
      qb
        .insertInto("task_run")
        .values(row as Selectable<TaskRunTable>)
        .onConflict((oc) => oc.columns(["flow_run_id", "task_key", "dynamic_key"]).doNothing())
        .returningAll(),
    )
    .with("state_row", (qb) => qb.insertInto("task_run_state").columns(STATE_COLUMNS).expression(stateSelect))
    .selectFrom("inserted")
    .selectAll()
    .executeTakeFirst();
}

async function findExisting(db: Database, run: NewRun) {
  if (run.kind === "flow_run") {
    return db.kysely
      .selectFrom("flow_run")
      .selectAll()
      .where("flow_id", "=", run.row.flow_id)
      .where("idempotency_key", "=", run.row.idempotency_key ?? "")
      .executeTakeFirst();
  }
  return db.kysely
    .selectFrom("task_run")
    .selectAll()
    .where("flow_run_id", "=", run.row.flow_run_id ?? "")
    .where("task_key", "=", run.row.task_key)
    .where("dynamic_key", "=", run.row.dynamic_key)
    .executeTakeFirst();
}
