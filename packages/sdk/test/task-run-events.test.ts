import { describe, expect, it } from "vitest";
import { TASK_RUN_EVENT_PREFIX, type EventCreate, type State, type StateType, type TaskRun } from "@baton/core";
import { localState, TaskRunEventWriter } from "../src/engine/task-run-reporter.js";
import { isoTime } from "../src/iso-time.js";
import type { BatonClient, JsonBytes } from "../src/client.js";
import { createRunLogger, LogShipper } from "../src/logger.js";
import { currentSettings } from "../src/settings.js";

/* The JSON text of task-run state events written from templates, against the objects they stand for. */

/**
 * The task run fields an event carries: all but those the recorder takes from the state
 * (`state*`, `updated`) or does not store (`labels`, the estimates), in the order the writer
 * writes them.
 */
const REPORTED = [
  "id",
  "created",
  "name",
  "flow_run_id",
  "task_key",
  "dynamic_key",
  "cache_key",
  "cache_expiration",
  "task_version",
  "empirical_policy",
  "tags",
  "task_inputs",
  "run_count",
  "flow_run_run_count",
  "expected_start_time",
  "next_scheduled_start_time",
  "start_time",
  "end_time",
  "total_run_time",
] as const satisfies ReadonlyArray<keyof TaskRun>;

/**
 * The event that reports `state` of `run`, as an object (Prefect's shape: the task run rides in
 * the payload): what TaskRunEventWriter's text must be the JSON of.
 */
function taskRunStateEvent(
  run: TaskRun,
  state: State,
  previous: { state: State | null; eventId: string | undefined },
  flowRun: { id: string; name: string } | undefined,
): EventCreate {
  // The row as the recorder stores it; nulls and empty values are its defaults, so they are left out.
  const row: Record<string, unknown> = {};
  for (const key of REPORTED) {
    const value = run[key];
    if (value !== null && value !== undefined) row[key] = value;
  }
  const message = (state.message ?? "").slice(0, 1000);
  return {
    id: state.id,
    occurred: state.timestamp,
    event: `${TASK_RUN_EVENT_PREFIX}${state.name ?? stateName(state.type)}`,
    resource: {
      "prefect.resource.id": `${TASK_RUN_EVENT_PREFIX}${run.id}`,
      "prefect.resource.name": run.name,
      "prefect.state-message": message,
      "prefect.state-name": state.name ?? stateName(state.type),
      "prefect.state-timestamp": state.timestamp,
      "prefect.state-type": state.type,
    },
    related: flowRun ? [{ "prefect.resource.id": `prefect.flow-run.${flowRun.id}`, "prefect.resource.role": "flow-run", "prefect.resource.name": flowRun.name }] : [],
    payload: {
      intended: { from: previous.state?.type ?? null, to: state.type },
      validated_state: { type: state.type, name: state.name, message: state.message, state_details: state.state_details, data: state.data ?? null },
      task_run: row,
    },
    follows: previous.eventId ?? null,
  };
}

function stateName(type: StateType): string {
  return type.charAt(0) + type.slice(1).toLowerCase();
}


function run(overrides: Partial<TaskRun> = {}): TaskRun {
  return {
    id: "019b0f5e-8a3c-7000-9d2e-5b1c00000001",
    created: "2026-12-08T00:02:42.400Z",
    updated: "2026-12-08T00:02:42.400Z",
    name: "double-0",
    flow_run_id: "019b0f5e-8a3c-7000-9d2e-5b1c00000000",
    task_key: "double-abc",
    dynamic_key: "0",
    cache_key: null,
    cache_expiration: null,
    task_version: null,
    empirical_policy: { max_retries: 0, retry_delay_seconds: 0, retries: 2, retry_delay: [1, 5], retry_jitter_factor: null },
    tags: [],
    labels: {},
    state_id: null,
    task_inputs: { x: [] },
    state_type: null,
    state_name: null,
    run_count: 0,
    flow_run_run_count: 1,
    expected_start_time: null,
    next_scheduled_start_time: null,
    start_time: null,
    end_time: null,
    total_run_time: 0,
    estimated_run_time: 0,
    estimated_start_time_delta: 0,
    state: null,
    ...overrides,
  };
}

const FLOW_RUN = { id: "019b0f5e-8a3c-7000-9d2e-5b1c000000ff", name: "clever-\"quoted\"-otter" };

describe("TaskRunEventWriter", () => {
  it("writes exactly JSON.stringify(taskRunStateEvent(...)) for each state of a run", () => {
    const base = run({ name: "odd \"name\" \u2028 ünïcode", task_version: "v1", task_inputs: { x: [], y: [] } });
    const pending = localState("PENDING", "Pending", "2026-12-08T00:02:42.400Z");
    const running = localState("RUNNING", "Running", "2026-12-08T00:02:42.401Z");
    const failed = localState("FAILED", "Failed", "2026-12-08T00:02:42.402Z", { message: "Task run encountered an exception: Error: \"boom\"\n".repeat(40), data: { type: "error", message: "boom" }, state_details: {} });
    const retry = localState("SCHEDULED", "AwaitingRetry", "2026-12-08T00:02:42.403Z", { message: null, data: null, state_details: { scheduled_time: "2026-12-08T00:02:43.403Z", retriable: true } });
    const completed = localState("COMPLETED", "Completed", "2026-12-08T00:02:43.500Z", { message: null, data: [1, "two", { three: null }], state_details: { untrackable_result: true } });
    const unnamed: State = { ...localState("CRASHED", "Crashed", "2026-12-08T00:02:43.600Z"), name: null, data: undefined };
    const writer = new TaskRunEventWriter(base, FLOW_RUN);
    const steps: Array<[State, Partial<TaskRun>]> = [
      [pending, { expected_start_time: pending.timestamp }],
      [running, { run_count: 1, start_time: running.timestamp }],
      [failed, { end_time: failed.timestamp, total_run_time: 0.001 }],
      [retry, { next_scheduled_start_time: "2026-12-08T00:02:43.403Z", end_time: null }],
      [completed, { run_count: 2, next_scheduled_start_time: null, end_time: completed.timestamp, total_run_time: 0.5 }],
      [unnamed, {}],
    ];
    let previous: State | null = null;
    let eventId: string | undefined;
    let current = base;
    for (const [state, changes] of steps) {
      current = { ...current, ...changes, state };
      const text = writer.write(current, state, { state: previous, eventId });
      expect(text).toBe(JSON.stringify(taskRunStateEvent(current, state, { state: previous, eventId }, FLOW_RUN)));
      previous = state;
      eventId = state.id;
    }
  });

  it("writes a run outside a flow run, with tags and a version, as the object would", () => {
    const base = run({ flow_run_id: null, flow_run_run_count: 0, tags: ["a", "b\"c"], task_version: "2", empirical_policy: { max_retries: 0, retry_delay_seconds: 0, retries: 0, retry_delay: 0, retry_jitter_factor: 0.5 } });
    const state = localState("PENDING", "Pending", "2026-12-08T00:02:42.400Z");
    const writer = new TaskRunEventWriter(base, undefined);
    expect(writer.write(base, state, { state: null, eventId: undefined })).toBe(JSON.stringify(taskRunStateEvent(base, state, { state: null, eventId: undefined }, undefined)));
  });
});

describe("isoTime", () => {
  it("is Date.toISOString for any millisecond, within a second and across seconds, minutes and years", () => {
    const starts = [0, 999, 1000, Date.UTC(2026, 11, 31, 23, 59, 59, 998), Date.UTC(2000, 1, 29, 12, 0, 0, 0), Date.now()];
    for (const start of starts) {
      for (let ms = start; ms < start + 2500; ms += 7) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
    }
    // Out of the short form's range, or not a whole millisecond: Date's own answer.
    for (const ms of [-1, 1.5, 253402300800000, 8.64e15]) expect(isoTime(ms)).toBe(new Date(ms).toISOString());
  });
});

describe("run loggers' records", () => {
  it("are sent as JSON.stringify would write the LogCreate, names and quotes escaped", async () => {
    const bodies: string[] = [];
    const client = {
      apiUrl: "http://stub/api",
      request: async (_method: string, _path: string, body: JsonBytes) => {
        bodies.push(Buffer.from(body.bytes).toString("utf8"));
      },
    } as unknown as BatonClient;
    const shipper = new LogShipper(client);
    const logger = createRunLogger({ kind: "task", runName: "t-1", flowRunId: null, taskRunId: "019b0f5e-8a3c-7000-9d2e-5b1c00000001", shipper, settings: { ...currentSettings(), logLevel: "debug", consoleLogs: false } });
    logger.info('said "hi"\n\u2028 100%% ünïcode');
    logger.debug("%d items", 3);
    shipper.enqueue({ name: "baton.flow_runs", level: 40, message: "plain", timestamp: "2026-12-08T00:00:00.000Z", flow_run_id: "019b0f5e-8a3c-7000-9d2e-5b1c00000000", task_run_id: null });
    await shipper.flush();
    expect(bodies).toHaveLength(1);
    const records = JSON.parse(bodies[0]!) as Array<Record<string, unknown>>;
    // Key order and text as JSON.stringify gives them.
    expect(bodies[0]).toBe(JSON.stringify(records));
    expect(records.map((r) => [r.name, r.level, r.message, r.flow_run_id, r.task_run_id])).toEqual([
      ["baton.task_runs", 20, 'said "hi"\n\u2028 100%% ünïcode', null, "019b0f5e-8a3c-7000-9d2e-5b1c00000001"],
      ["baton.task_runs", 10, "3 items", null, "019b0f5e-8a3c-7000-9d2e-5b1c00000001"],
      ["baton.flow_runs", 40, "plain", "019b0f5e-8a3c-7000-9d2e-5b1c00000000", null],
    ]);
    expect(Object.keys(records[0]!)).toEqual(["name", "level", "message", "timestamp", "flow_run_id", "task_run_id"]);
    expect(new Date(records[0]!.timestamp as string).toISOString()).toBe(records[0]!.timestamp);
  });
});
