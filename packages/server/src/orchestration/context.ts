import type { FlowRunPolicy, State, StateType, TaskRunPolicy } from "@baton/core";
import type { Selectable } from "kysely";
import type { Executor } from "../db/database.js";
import type { FlowRunTable, TaskRunTable } from "../db/schema.js";

/** The run a transition is proposed for, read (and on PostgreSQL locked) inside the transaction. */
export type OrchestratedRun =
  | { kind: "flow_run"; row: Selectable<FlowRunTable>; policy: FlowRunPolicy }
  | { kind: "task_run"; row: Selectable<TaskRunTable>; policy: TaskRunPolicy };

export interface OrchestrationContext {
  readonly run: OrchestratedRun;
  /** The run's current state, or null for a run that has none yet. */
  readonly initial: State | null;
  /** The state being proposed. Rules may adjust it (e.g. copy a scheduled time). */
  proposed: State;
  readonly now: Date;
  readonly trx: Executor;
  readonly dialect: "sqlite" | "postgres";
}

/**
 * What a rule decides. Returning nothing lets the next rule look. A REJECT carrying a
 * `state` writes that state instead of the proposed one (AwaitingRetry, Cached, Cancelled),
 * as Prefect's rules do; a REJECT without one leaves the run as it was.
 */
export type RuleDecision =
  | { status: "REJECT"; reason: string; state?: State }
  | { status: "WAIT"; reason: string; delaySeconds: number }
  | { status: "ABORT"; reason: string };

export type StateTypeOrNone = StateType | null;

export interface OrchestrationRule {
  readonly name: string;
  /** Initial state types the rule looks at (`null` is a run without a state); "any" for all. */
  readonly from: readonly StateTypeOrNone[] | "any";
  /** Proposed state types the rule looks at; "any" for all. */
  readonly to: readonly StateType[] | "any";
  /**
   * The rule reads other rows that must not change until the state is written (a pool's or
   * a deployment's active runs): it runs inside a write transaction, after `lockRow` on
   * what it reads, never on the optimistic path.
   */
  readonly serialized?: boolean | ((ctx: OrchestrationContext) => boolean);
  /**
   * Narrows the rule to some runs (a rule about tags to runs that have tags), so that the
   * others do not pay for it: a rule that does not apply neither decides, nor runs after,
   * nor forces the locking path.
   */
  readonly appliesTo?: (ctx: OrchestrationContext) => boolean;
  /**
   * `after` also runs when the state written is not the proposed one (a substitute such as
   * AwaitingRetry) and when the transition is forced: for bookkeeping that must follow
   * every change of state, such as giving back concurrency slots.
   */
  readonly afterEveryWrite?: boolean;
  /** Judges the transition before it is written. */
  before?(ctx: OrchestrationContext): Promise<RuleDecision | void> | RuleDecision | void;
  /** Runs after `written` has been stored, inside the same transaction. */
  after?(ctx: OrchestrationContext, written: State): Promise<void>;
}

/** Whether this rule, for this transition, must run under locks in a transaction. */
export function needsSerialization(rule: OrchestrationRule, ctx: OrchestrationContext): boolean {
  return typeof rule.serialized === "function" ? rule.serialized(ctx) : rule.serialized === true;
}

export function ruleApplies(rule: OrchestrationRule, from: StateTypeOrNone, to: StateType): boolean {
  return (rule.from === "any" || rule.from.includes(from)) && (rule.to === "any" || rule.to.includes(to));
}

/**
 * Locks a row until the transition's transaction ends (PostgreSQL); on SQLite the write
 * transaction already excludes every other writer. For serialized rules.
 */
export async function lockRow(ctx: OrchestrationContext, table: "deployment" | "work_pool" | "work_queue" | "flow_run", id: string): Promise<void> {
  if (ctx.dialect !== "postgres") return;
  // FOR NO KEY UPDATE serializes the rules that read this row without also blocking inserts
  // of rows that reference it (a new queue of a locked pool), which FOR UPDATE would.
  await ctx.trx.selectFrom(table).select("id").where("id", "=", id).forNoKeyUpdate().execute();
}

export function reject(reason: string, state?: State): RuleDecision {
  return state ? { status: "REJECT", reason, state } : { status: "REJECT", reason };
}
