import { MAX_EVENT_BATCH, newId, TASK_RUN_EVENT_PREFIX, type EventCreate, type State, type StateType, type TaskRun } from "@baton/core";
import { isTransient, RETRY_PAUSES_MS, type BatonClient } from "../client.js";
import { sleep } from "./retries.js";

/**
 * Client-side task orchestration's reporting half: the states of task runs orchestrated in
 * this process (engine/local-task-run.ts) are sent as `prefect.task-run.<State>` events, in
 * batches, to `POST /events`, where the server's task run recorder writes the task_run and
 * task_run_state rows. One request carries up to hundreds of states instead of one request
 * per state; a flow run flushes before its own final state, so whoever reads its task runs
 * after it finished sees them all.
 */

/** A batch leaves at most this long after its first event... */
const FLUSH_AFTER_MS = 50;
/** ...or as soon as it holds this many. */
const FLUSH_AT_EVENTS = 1000;
const MAX_IN_FLIGHT = 2;

export class TaskRunReporter {
  private buffer: EventCreate[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** Batches being sent: up to two at once, so the server parses one while it writes the other (the recorder copes with any order). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Batches waiting for room. */
  private readonly queued: EventCreate[][] = [];
  private failure: unknown;

  constructor(private readonly client: BatonClient) {}

  report(event: EventCreate): void {
    this.buffer.push(event);
    unsent.add(this);
    if (this.buffer.length >= FLUSH_AT_EVENTS) {
      void this.flush().catch(() => undefined);
      return;
    }
    if (this.timer === undefined) {
      this.timer = setTimeout(() => void this.flush().catch(() => undefined), FLUSH_AFTER_MS);
      // Flows flush before they finish; the timer alone must not keep a process alive.
      this.timer.unref();
    }
  }

  /** Sends everything reported so far; rejects if some of it could not be delivered since the last flush. */
  flush(): Promise<void> {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch = this.buffer;
    this.buffer = [];
    unsent.delete(this);
    if (batch.length > 0) this.queued.push(batch);
    this.pump();
    return this.drained().then(() => {
      const failure = this.failure;
      this.failure = undefined;
      if (failure !== undefined) throw failure;
    });
  }

  private pump(): void {
    while (this.inFlight.size < MAX_IN_FLIGHT && this.queued.length > 0) {
      const batch = this.queued.shift()!;
      const sending: Promise<void> = this.send(batch).finally(() => {
        this.inFlight.delete(sending);
        this.pump();
      });
      this.inFlight.add(sending);
    }
  }

  /** Resolves once every batch queued so far has been sent (or given up on). */
  private async drained(): Promise<void> {
    while (this.inFlight.size > 0 || this.queued.length > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async send(batch: EventCreate[]): Promise<void> {
    for (let i = 0; i < batch.length; i += MAX_EVENT_BATCH) {
      const chunk = batch.slice(i, i + MAX_EVENT_BATCH);
      for (let attempt = 0; ; attempt++) {
        try {
          // The recorder is idempotent by event id, so a batch whose answer was lost may be sent again.
          await this.client.request<void>("POST", "/events", chunk);
          break;
        } catch (error) {
          const pause = RETRY_PAUSES_MS[attempt];
          if (pause === undefined || !isTransient(error)) {
            this.failure ??= error;
            break;
          }
          await sleep(pause);
        }
      }
    }
  }
}

const reporters = new WeakMap<BatonClient, TaskRunReporter>();
/** Reporters holding events not yet sent: a process about to exit sends them first. */
const unsent = new Set<TaskRunReporter>();
let exitHookInstalled = false;

/**
 * The flush timer does not keep a process alive, so events reported after a flow's last flush
 * (task runs a timed-out flow left behind) are sent when the event loop runs dry, before exit.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("beforeExit", () => {
    for (const reporter of [...unsent]) void reporter.flush().catch(() => undefined);
  });
}

export function reporterFor(client: BatonClient): TaskRunReporter {
  let reporter = reporters.get(client);
  if (reporter === undefined) {
    installExitHook();
    reporter = new TaskRunReporter(client);
    reporters.set(client, reporter);
  }
  return reporter;
}

/** Sends the task-run states this process has reported through `client` and not yet sent. */
export async function flushTaskRunReports(client: BatonClient): Promise<void> {
  await reporters.get(client)?.flush();
}

/**
 * The task run fields an event carries: all but those the recorder takes from the state
 * (`state*`, `updated`) or does not store (`labels`, the estimates). A list rather than a walk
 * of the run's keys: this runs three times per task run.
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

/** The event that reports `state` of `run` (Prefect's shape: the task run rides in the payload). */
export function taskRunStateEvent(
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

/**
 * A state made here rather than by the server (ids are the events' ids). Ids are UUIDv7s, as
 * task runs' are: the server's state and event tables are keyed by them, and time-ordered keys
 * are appended to those indexes rather than scattered over them.
 */
export function localState(type: StateType, name: string, timestamp: string, extra: Pick<State, "message" | "data" | "state_details"> = { message: null, data: null, state_details: {} }): State {
  return { id: newId(), type, name, timestamp, message: extra.message ?? null, data: extra.data ?? null, state_details: extra.state_details };
}
