import {
  ObjectNotFoundError,
  type OrchestrationResult,
  type State,
  type StateCreate,
  type StateDetails,
} from "@baton/core";
import { sql } from "kysely";
import type { Database, Executor } from "../db/database.js";
import { fromJson } from "../db/json.js";
import { insertState, STATE_COLUMNS, STATE_TABLE, stateRowFrom, type RunKind } from "../db/queries/states.js";
import { bookkeeping } from "./bookkeeping.js";
import { flowRunPolicy, taskRunPolicy } from "../db/queries/runs.js";
import { needsSerialization, ruleApplies, type OrchestratedRun, type OrchestrationContext, type OrchestrationRule, type StateTypeOrNone } from "./context.js";
import { FLOW_RUN_POLICY, TASK_RUN_POLICY } from "./policy.js";
import { stateFromProposal } from "./state-factory.js";
import type { EventStream } from "../events/event-stream.js";
import { emitRunStateChanges } from "../events/state-change-events.js";

export interface SetStateOptions {
  /** Skip the rules (bookkeeping still happens), as `force=true` on the API. */
  force?: boolean;
  now?: Date;
  /** Where the state change is published as an event (`prefect.flow-run.<State>`), once written. */
  events?: EventStream | undefined;
}

/** What the rules decided, and the state to store if any. */
type Verdict = Decided | { needsTransaction: true };
interface Decided {
  ctx: OrchestrationContext;
  result: OrchestrationResult;
  /** The state to write: the proposal when accepted, a substitute on some rejections. */
  write: State | null;
  /** Rules with work to do after the write (they need the transactional path). */
  after: OrchestrationRule[];
}

/** Attempts of the optimistic path before falling back to a locking transaction. */
const OPTIMISTIC_ATTEMPTS = 8;

/**
 * The one way a run's state changes: the proposal passes the run kind's policy and the
 * resulting state is stored with its bookkeeping, atomically.
 *
 * On SQLite this is a short write transaction (one in-process writer, nothing to wait on).
 * On PostgreSQL the run is read without a lock and the write is one compare-and-set
 * statement that only succeeds if the run still has the state the rules judged; if another
 * writer got there first, the rules run again on the new state. That is two round trips
 * instead of five, and gives the same guarantee as a row lock: of N concurrent claims,
 * exactly one is accepted.
 */
export async function setRunState(db: Database, kind: RunKind, runId: string, proposal: StateCreate, options: SetStateOptions = {}): Promise<OrchestrationResult> {
  if (db.dialect.name === "postgres") {
    for (let attempt = 0; attempt < OPTIMISTIC_ATTEMPTS; attempt++) {
      const verdict = await evaluate(db, db.kysely, kind, runId, proposal, options, false);
      if ("needsTransaction" in verdict) break;
      if (!verdict.write) return verdict.result;
      if (verdict.after.length > 0) break;
      if (await compareAndSetState(db, verdict.ctx, verdict.write)) {
        await emitWritten(db, options, verdict.ctx, verdict.write);
        return verdict.result;
      }
    }
  }
  let written: { ctx: OrchestrationContext; state: State } | undefined;
  const result = await db.write(async (trx) => {
    const outcome = await orchestrateWriting(db, trx, kind, runId, proposal, options);
    written = outcome.written;
    return outcome.result;
  });
  if (written) await emitWritten(db, options, written.ctx, written.state);
  return result;
}

async function emitWritten(db: Database, options: SetStateOptions, ctx: OrchestrationContext, state: State): Promise<void> {
  if (!options.events) return;
  const row = { ...ctx.run.row, run_count: bookkeeping(ctx.run, ctx.initial, state).run_count ?? ctx.run.row.run_count };
  await emitRunStateChanges(db, options.events, [{ kind: ctx.run.kind, row, initial: ctx.initial, validated: state }]);
}

/** Same as `setRunState` inside a write transaction the caller already holds. */
export async function orchestrate(
  db: Database,
  trx: Executor,
  kind: RunKind,
  runId: string,
  proposal: StateCreate,
  options: SetStateOptions = {},
): Promise<OrchestrationResult> {
  return (await orchestrateWriting(db, trx, kind, runId, proposal, options)).result;
}

async function orchestrateWriting(
  db: Database,
  trx: Executor,
  kind: RunKind,
  runId: string,
  proposal: StateCreate,
  options: SetStateOptions,
): Promise<{ result: OrchestrationResult; written?: { ctx: OrchestrationContext; state: State } }> {
  const verdict = await evaluate(db, trx, kind, runId, proposal, options, true);
  if ("needsTransaction" in verdict) throw new Error("a serialized rule asked for a transaction inside one");
  if (!verdict.write) return { result: verdict.result };
  await writeState(verdict.ctx, verdict.write);
  for (const rule of verdict.after) await rule.after!(verdict.ctx, verdict.write);
  return { result: verdict.result, written: { ctx: verdict.ctx, state: verdict.write } };
}

async function evaluate(
  db: Database,
  executor: Executor,
  kind: RunKind,
  runId: string,
  proposal: StateCreate,
  options: SetStateOptions,
  lock: boolean,
): Promise<Verdict> {
  const now = options.now ?? new Date();
  const run = await readRun(executor, kind, runId, lock && db.dialect.supportsRowLocks);
  const initial = fromJson<State | null>(run.row.state, null);
  const runRef: StateDetails =
    run.kind === "flow_run" ? { flow_run_id: runId } : { task_run_id: runId, flow_run_id: run.row.flow_run_id };
  const ctx: OrchestrationContext = { run, initial, proposed: stateFromProposal(proposal, now, runRef), now, trx: executor, dialect: db.dialect.name };
  const policy = kind === "flow_run" ? FLOW_RUN_POLICY : TASK_RUN_POLICY;
  const from = initial?.type ?? null;

  if (!options.force) {
    for (const rule of policy) {
      if (!rule.before || !ruleApplies(rule, from, ctx.proposed.type) || (rule.appliesTo && !rule.appliesTo(ctx))) continue;
      if (!lock && needsSerialization(rule, ctx)) return { needsTransaction: true };
      const decision = await rule.before(ctx);
      if (!decision) continue;
      switch (decision.status) {
        case "REJECT": {
          if (!decision.state) {
            return { ctx, write: null, after: [], result: { status: "REJECT", state: initial, details: { type: "reject_details", reason: decision.reason } } };
          }
          const substitute: State = { ...decision.state, state_details: { ...decision.state.state_details, ...runRef } };
          return { ctx, write: substitute, after: afterRules(policy, ctx, from, substitute, false), result: { status: "REJECT", state: substitute, details: { type: "reject_details", reason: decision.reason } } };
        }
        case "WAIT":
          return {
            ctx,
            write: null,
            after: [],
            result: { status: "WAIT", state: initial, details: { type: "wait_details", delay_seconds: decision.delaySeconds, reason: decision.reason } },
          };
        case "ABORT":
          return { ctx, write: null, after: [], result: { status: "ABORT", state: initial, details: { type: "abort_details", reason: decision.reason } } };
      }
    }
  }
  const after = afterRules(policy, ctx, from, ctx.proposed, !options.force);
  return { ctx, write: ctx.proposed, after, result: { status: "ACCEPT", state: ctx.proposed, details: { type: "accept_details" } } };
}

/**
 * The rules with work to do once `written` is stored: all that apply when the proposal was
 * accepted by the rules, only the `afterEveryWrite` ones for a substitute or a forced write.
 */
function afterRules(policy: readonly OrchestrationRule[], ctx: OrchestrationContext, from: StateTypeOrNone, written: State, accepted: boolean): OrchestrationRule[] {
  return policy.filter(
    (rule) =>
      rule.after !== undefined &&
      (accepted || rule.afterEveryWrite === true) &&
      ruleApplies(rule, from, written.type) &&
      (rule.appliesTo === undefined || rule.appliesTo(ctx)),
  );
}

async function readRun(executor: Executor, kind: RunKind, runId: string, forUpdate: boolean): Promise<OrchestratedRun> {
  if (kind === "flow_run") {
    let query = executor.selectFrom("flow_run").selectAll().where("id", "=", runId);
    if (forUpdate) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    if (!row) throw new ObjectNotFoundError("Flow run", runId);
    return { kind, row, policy: flowRunPolicy(row) };
  }
  let query = executor.selectFrom("task_run").selectAll().where("id", "=", runId);
  if (forUpdate) query = query.forUpdate();
  const row = await query.executeTakeFirst();
  if (!row) throw new ObjectNotFoundError("Task run", runId);
  return { kind, row, policy: taskRunPolicy(row) };
}

/** The run's new columns: bookkeeping, plus the parent flow run's attempt for a running task. */
function runColumns(ctx: OrchestrationContext, state: State) {
  const set = bookkeeping(ctx.run, ctx.initial, state);
  if (ctx.run.kind === "task_run" && state.type === "RUNNING" && ctx.run.row.flow_run_id) {
    return { ...set, flow_run_run_count: sql<number>`coalesce((SELECT fr.run_count FROM flow_run fr WHERE fr.id = ${ctx.run.row.flow_run_id}), 0)` };
  }
  return set;
}

async function writeState(ctx: OrchestrationContext, state: State): Promise<void> {
  await insertState(ctx.trx, ctx.run.kind, ctx.run.row.id, state);
  await ctx.trx.updateTable(ctx.run.kind).set(runColumns(ctx, state)).where("id", "=", ctx.run.row.id).execute();
}

/**
 * PostgreSQL only: updates the run if it still has the state the rules saw and inserts the
 * new state row, in one statement. Returns false when another writer changed the run first.
 */
async function compareAndSetState(db: Database, ctx: OrchestrationContext, state: State): Promise<boolean> {
  const expected = ctx.run.row.state_id;
  const result = await db.kysely
    .with("changed", (qb) =>
      qb
        .updateTable(ctx.run.kind)
        .set(runColumns(ctx, state))
        .where("id", "=", ctx.run.row.id)
        .where("state_id", expected === null ? "is" : "=", expected)
        .returning("id"),
    )
    .insertInto(STATE_TABLE[ctx.run.kind])
    .columns(STATE_COLUMNS)
    .expression(stateRowFrom(state, "changed"))
    .executeTakeFirst();
  return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
}
