import {
  ConflictError,
  InvalidInputError,
  RESOURCE_ID_LABEL,
  TASK_RUN_EVENT_PREFIX,
  type Event,
  type TaskRunStateEventPayload,
  type State,
} from "@baton/core";
import type { Selectable } from "kysely";
import { insertRows } from "../db/bulk-insert.js";
import type { Database, Executor } from "../db/database.js";
import { toJson } from "../db/json.js";
import type { StateTable, TaskRunTable } from "../db/schema.js";
import { STATE_COLUMNS, stateRow } from "../db/queries/states.js";
import { newTaskRunRow } from "../db/queries/task-runs.js";
import { parsePayload } from "./task-run-payload.js";

/** Rows per INSERT: 28 task_run columns x 400 and 9 state columns x 1000 stay under both databases' parameter caps. */
const RUN_CHUNK = 400;
const STATE_CHUNK = 1000;

interface Recorded {
  index: number;
  state: State;
  payload: TaskRunStateEventPayload;
}

/**
 * The task run recorder (Prefect's `task_run_recorder` service, done as part of `POST /events`):
 * each `prefect.task-run.*` event carrying a task run in its payload (client-side task
 * orchestration, engine/task-run-reporter.ts in the SDK) becomes a task_run_state row, and its
 * task run is created or brought up to that state. Idempotent (a state is keyed by its event's
 * id, so a batch sent again changes nothing) and safe out of order: a run's row only moves to a
 * state newer than the one it has, by state timestamp.
 *
 * Validates before writing anything, so a bad event is a 422 naming its field and no part of
 * the batch is recorded. Task-run events without a task run in the payload are only stored.
 */
export async function recordTaskRunEvents(db: Database, events: readonly Event[]): Promise<void> {
  const recorded = parse(events);
  if (recorded.length === 0) return;
  await checkFlowRuns(db.kysely, recorded);
  // A run's row takes its newest state of the batch; the upsert's WHERE compares it with the stored one.
  const latest = new Map<string, Recorded>();
  for (const r of recorded) {
    const seen = latest.get(r.payload.task_run.id);
    if (seen === undefined || r.state.timestamp >= seen.state.timestamp) latest.set(r.payload.task_run.id, r);
  }
  // Rows in id order: batches recorded at once (a client has two in flight; several clients
  // report runs of one flow) then lock the runs they share in the same order. In arrival
  // order, two batches holding the same runs in opposite orders deadlocked on PostgreSQL, and
  // the batch it aborted was lost to its client (a 500 is not retried).
  const runRows = [...latest.values()].map(runRow).sort(byId);
  const stateRows: Array<Selectable<StateTable>> = recorded.map((r) => stateRow(r.state, r.payload.task_run.id)).sort(byId);
  const dialect = db.dialect.name;
  for (let attempt = 1; ; attempt++) {
    try {
      await db.write(async (trx) => {
        for (let i = 0; i < runRows.length; i += RUN_CHUNK) await insertRows(trx, dialect, UPSERT_RUNS, runRows.slice(i, i + RUN_CHUNK));
        for (let i = 0; i < stateRows.length; i += STATE_CHUNK) await insertRows(trx, dialect, INSERT_STATES, stateRows.slice(i, i + STATE_CHUNK));
      });
      return;
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE") {
        throw new ConflictError("A task run with the same flow_run_id, task_key and dynamic_key but another id already exists");
      }
      // A deadlock with another writer of these runs (set_state on one of them) rolled the
      // whole batch back; recording is idempotent, so it is simply done again.
      if ((code === DEADLOCK_DETECTED || code === SERIALIZATION_FAILURE) && attempt < MAX_ATTEMPTS) continue;
      throw error;
    }
  }
}

/** PostgreSQL's SQLSTATEs for a transaction rolled back to break a deadlock, or a serialization failure. */
const DEADLOCK_DETECTED = "40P01";
const SERIALIZATION_FAILURE = "40001";
const MAX_ATTEMPTS = 3;

function byId(a: { id: string }, b: { id: string }): number {
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

function parse(events: readonly Event[]): Recorded[] {
  const recorded: Recorded[] = [];
  events.forEach((event, index) => {
    if (!event.event.startsWith(TASK_RUN_EVENT_PREFIX) || !("task_run" in event.payload)) return;
    const parsed = parsePayload(event.payload);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new InvalidInputError(["body", index, "payload", ...issue.path].join("."), issue.message);
    }
    const payload = parsed.data;
    if (event.resource[RESOURCE_ID_LABEL] !== `${TASK_RUN_EVENT_PREFIX}${payload.task_run.id}`) {
      throw new InvalidInputError(`body.${index}.resource`, `must be the task run of the payload (prefect.task-run.${payload.task_run.id})`);
    }
    const v = payload.validated_state;
    const state: State = {
      id: event.id,
      type: v.type,
      name: v.name ?? null,
      timestamp: event.occurred,
      message: v.message ?? null,
      data: v.data ?? null,
      state_details: v.state_details ?? {},
    };
    recorded.push({ index, state, payload });
  });
  return recorded;
}

/** A task run of a flow run that does not exist is bad input, not a foreign-key failure. */
async function checkFlowRuns(db: Executor, recorded: readonly Recorded[]): Promise<void> {
  const ids = [...new Set(recorded.flatMap((r) => (r.payload.task_run.flow_run_id ? [r.payload.task_run.flow_run_id] : [])))];
  if (ids.length === 0) return;
  const found = new Set<string>();
  for (let i = 0; i < ids.length; i += STATE_CHUNK) {
    const rows = await db.selectFrom("flow_run").select("id").where("id", "in", ids.slice(i, i + STATE_CHUNK)).execute();
    for (const row of rows) found.add(row.id);
  }
  const missing = recorded.find((r) => r.payload.task_run.flow_run_id && !found.has(r.payload.task_run.flow_run_id));
  if (missing) throw new InvalidInputError(`body.${missing.index}.payload.task_run.flow_run_id`, `no flow run ${missing.payload.task_run.flow_run_id}`);
}

/** The row of a reported task run: a new run's row (as the API creates it), moved to the reported state. */
function runRow({ state, payload }: Recorded): Selectable<TaskRunTable> {
  const run = payload.task_run;
  return {
    ...newTaskRunRow(run, state.timestamp),
    created: run.created ?? state.timestamp,
    flow_run_run_count: run.flow_run_run_count,
    state_id: state.id,
    state_type: state.type,
    state_name: state.name,
    state_timestamp: state.timestamp,
    state: toJson(state),
    run_count: run.run_count,
    total_run_time: run.total_run_time,
    expected_start_time: run.expected_start_time ?? state.timestamp,
    next_scheduled_start_time: run.next_scheduled_start_time ?? null,
    start_time: run.start_time ?? null,
    end_time: run.end_time ?? null,
  };
}

const RUN_COLUMNS = [
  "id",
  "created",
  "updated",
  "name",
  "flow_run_id",
  "task_key",
  "dynamic_key",
  "cache_key",
  "cache_expiration",
  "task_version",
  "empirical_policy",
  "tags",
  "labels",
  "task_inputs",
  "flow_run_run_count",
  "state_id",
  "state_type",
  "state_name",
  "state_timestamp",
  "state",
  "run_count",
  "total_run_time",
  "expected_start_time",
  "next_scheduled_start_time",
  "start_time",
  "end_time",
] as const satisfies ReadonlyArray<keyof Selectable<TaskRunTable>>;

/** What an existing run takes from a newer state's row: everything but its identity and creation. */
const RUN_UPDATED = RUN_COLUMNS.filter((c) => !["id", "created", "flow_run_id", "task_key", "dynamic_key", "expected_start_time"].includes(c));

/** Inserts the runs, or moves existing ones to these states where they are newer: one statement. */
const UPSERT_RUNS = {
  key: "recorder-runs",
  table: "task_run",
  columns: RUN_COLUMNS,
  rest:
    `on conflict ("id") do update set ${RUN_UPDATED.map((c) => `"${c}" = excluded."${c}"`).join(", ")} ` +
    `where "task_run"."state_timestamp" IS NULL OR "task_run"."state_timestamp" < excluded."state_timestamp"`,
};

/** The states, each once: a state already stored (a batch sent again) is skipped. */
const INSERT_STATES = { key: "recorder-states", table: "task_run_state", columns: STATE_COLUMNS, rest: `on conflict ("id") do nothing` };
