import { MAX_EVENT_BATCH, newId, TASK_RUN_EVENT_PREFIX, type State, type StateType, type TaskRun } from "@baton/core";
import { isTransient, JsonBytes, RETRY_PAUSES_MS, type BatonClient } from "../client.js";
import { JsonArrayBytes } from "./json-array.js";
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
/** ...or as soon as it holds this many (at most MAX_EVENT_BATCH, what `POST /events` takes). */
const FLUSH_AT_EVENTS = Math.min(1000, MAX_EVENT_BATCH);
const MAX_IN_FLIGHT = 2;

export class TaskRunReporter {
  /** The batch being gathered, as the request body's bytes (TaskRunEventWriter's JSON of each event). */
  private buffer: JsonArrayBytes | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Batches being sent: up to two at once, so the server parses one while it writes the other (the recorder copes with any order). */
  private readonly inFlight = new Set<Promise<void>>();
  /** Batches waiting for room. */
  private readonly queued: Array<{ body: JsonBytes; buffer: Buffer }> = [];
  private failure: unknown;
  /** The size of the last full batch: the next one starts that big instead of growing to it. */
  private batchBytes = 64 * 1024;
  /** Buffers of batches the server has taken, to write the next ones into (a megabyte each, 15 per 5,000 tasks). */
  private readonly spare: Buffer[] = [];

  constructor(private readonly client: BatonClient) {}

  /** `event`: one event's JSON, as TaskRunEventWriter writes it. */
  report(event: string): void {
    if (this.buffer === undefined) {
      this.buffer = new JsonArrayBytes(this.batchBytes, this.spare.pop());
      unsent.add(this);
    }
    this.buffer.push(event);
    if (this.buffer.count >= FLUSH_AT_EVENTS) {
      // With some room to spare: events grow a little as the runs go on (longer states, larger counts).
      this.batchBytes = Math.ceil(this.buffer.byteLength * 1.1);
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
    this.buffer = undefined;
    unsent.delete(this);
    if (batch !== undefined) this.queued.push({ body: new JsonBytes(batch.finish()), buffer: batch.buffer });
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

  private async send(batch: { body: JsonBytes; buffer: Buffer }): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        // The recorder is idempotent by event id, so a batch whose answer was lost may be sent again.
        await this.client.request<void>("POST", "/events", batch.body);
        // Answered with success, so the server read the whole body: nothing refers to its bytes any more.
        if (this.spare.length < MAX_IN_FLIGHT) this.spare.push(batch.buffer);
        return;
      } catch (error) {
        const pause = RETRY_PAUSES_MS[attempt];
        if (pause === undefined || !isTransient(error)) {
          this.failure ??= error;
          return;
        }
        await sleep(pause);
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
 * Writes a task run's state events as JSON text, in Prefect's shape: the task run rides in the
 * payload, its null fields left out (task-run-events.test.ts builds the same event as an object
 * and checks the text is exactly its `JSON.stringify`). The parts that stay the same from one state of the run to the next (its identity, policy,
 * inputs, the flow run it belongs to) are serialised once, when the run is created. Building
 * the event objects and stringifying them was a fifth of the SDK's CPU per task run, with the
 * garbage they left. Only for runs whose reported fields other than the state's (`run_count`,
 * the times) do not change after creation: those orchestrated in this process (local-task-run.ts).
 */
export class TaskRunEventWriter {
  /** `,"resource":{"prefect.resource.id":...,"prefect.resource.name":...,"prefect.state-message":` */
  private readonly resourceHead: string;
  /** `,"related":[...],"payload":{"intended":{"from":` */
  private readonly relatedAndPayloadHead: string;
  /** `,"task_run":{"id":...,` up to `"task_inputs":{...}` */
  private readonly runHead: string;
  /** `,"flow_run_run_count":N`, or nothing for a null one. */
  private readonly flowRunRunCount: string;

  constructor(run: TaskRun, flowRun: { id: string; name: string } | undefined) {
    this.resourceHead = `,"resource":{"prefect.resource.id":${JSON.stringify(TASK_RUN_EVENT_PREFIX + run.id)},"prefect.resource.name":${JSON.stringify(run.name)},"prefect.state-message":`;
    this.relatedAndPayloadHead = flowRun === undefined ? relatedAndPayloadHead(undefined) : (flowHeads.get(flowRun) ?? relatedAndPayloadHead(flowRun));
    // The run's fixed fields, in the order the event lists them; ids and `created` (this process's ISO time) need no escaping.
    const optional = `${fieldJson("cache_key", run.cache_key)}${fieldJson("cache_expiration", run.cache_expiration)}${fieldJson("task_version", run.task_version)}`;
    const policy = run.empirical_policy == null ? "" : `,"empirical_policy":${policyJson(run.empirical_policy)}`;
    const tags = run.tags == null ? "" : run.tags.length === 0 ? ',"tags":[]' : `,"tags":${JSON.stringify(run.tags)}`;
    const head =
      `"id":"${run.id}"${run.created == null ? "" : `,"created":"${run.created}"`},"name":${JSON.stringify(run.name)}` +
      `${run.flow_run_id == null ? "" : `,"flow_run_id":"${run.flow_run_id}"`},"task_key":${JSON.stringify(run.task_key)},"dynamic_key":${JSON.stringify(run.dynamic_key)}` +
      `${optional}${policy}${tags}${fieldJson("task_inputs", run.task_inputs)}`;
    this.runHead = `,"task_run":{${head}`;
    this.flowRunRunCount = fieldJson("flow_run_run_count", run.flow_run_run_count);
  }

  /** The event of `state` of `run`, in JSON. */
  write(run: TaskRun, state: State, previous: { state: State | null; eventId: string | undefined }): string {
    // The pieces joined at once: join makes the flat string directly, where `+` or a template
    // literal makes a tree of ~25 pieces that writing the bytes then flattens (twice the time).
    // JSON.stringify only for what may need escaping: ids (UUIDs), state types and the times
    // this process wrote (ISO 8601) are put in as they are.
    const name = state.name ?? stateName(state.type);
    const quotedName = JSON.stringify(name);
    const type = state.type;
    const at = state.timestamp;
    return [
      '{"id":"',
      state.id,
      '","occurred":"',
      at,
      '","event":',
      JSON.stringify(TASK_RUN_EVENT_PREFIX + name),
      this.resourceHead,
      state.message ? JSON.stringify(state.message.slice(0, 1000)) : '""',
      ',"prefect.state-name":',
      quotedName,
      ',"prefect.state-timestamp":"',
      at,
      '","prefect.state-type":"',
      type,
      '"}',
      this.relatedAndPayloadHead,
      previous.state ? `"${previous.state.type}"` : "null",
      ',"to":"',
      type,
      '"},"validated_state":{"type":"',
      type,
      '"',
      state.name === undefined ? "" : state.name === null ? ',"name":null' : `,"name":${quotedName}`,
      state.message === undefined ? "" : state.message === null ? ',"message":null' : `,"message":${JSON.stringify(state.message)}`,
      state.state_details === undefined ? "" : `,"state_details":${objectJson(state.state_details)}`,
      state.data === undefined || state.data === null ? ',"data":null' : fieldJson("data", state.data, true),
      "}",
      this.runHead,
      numberJson("run_count", run.run_count),
      this.flowRunRunCount,
      run.expected_start_time == null ? "" : `,"expected_start_time":"${run.expected_start_time}"`,
      run.next_scheduled_start_time == null ? "" : `,"next_scheduled_start_time":"${run.next_scheduled_start_time}"`,
      run.start_time == null ? "" : `,"start_time":"${run.start_time}"`,
      run.end_time == null ? "" : `,"end_time":"${run.end_time}"`,
      numberJson("total_run_time", run.total_run_time),
      '}},"follows":',
      previous.eventId === undefined ? "null" : `"${previous.eventId}"`,
      "}",
    ].join("");
  }
}

/** `,"key":n` for a number field of the task run (left out when null, as the run's other fields are). */
function numberJson(key: string, value: number | null | undefined): string {
  return value === null || value === undefined ? "" : `,"${key}":${Number.isFinite(value) ? String(value) : "null"}`;
}

/** An object's JSON, with the usual empty `state_details` written without a walk. */
function objectJson(value: object): string {
  return isEmptyPlainObject(value) ? "{}" : (JSON.stringify(value) ?? "null");
}

/** The part of the events of a flow run's task runs that names the flow run: one string for all of them. */
const flowHeads = new WeakMap<{ id: string; name: string }, string>();

function relatedAndPayloadHead(flowRun: { id: string; name: string } | undefined): string {
  const related = flowRun ? [{ "prefect.resource.id": `prefect.flow-run.${flowRun.id}`, "prefect.resource.role": "flow-run", "prefect.resource.name": flowRun.name }] : [];
  const head = `,"related":${JSON.stringify(related)},"payload":{"intended":{"from":`;
  if (flowRun !== undefined) flowHeads.set(flowRun, head);
  return head;
}

/** A task's runs share its policy object (task-engine.ts), so its JSON is written once. */
const policyTexts = new WeakMap<object, string>();

function policyJson(policy: object): string {
  let text = policyTexts.get(policy);
  if (text === undefined) {
    text = JSON.stringify(policy);
    policyTexts.set(policy, text);
  }
  return text;
}

/**
 * `,"key":value` as JSON.stringify writes an object's property, or "" where it leaves the
 * property out (undefined, or a value with no JSON). Nulls are left out too for the task run's
 * fields, so `null` is only written where the caller says so.
 */
function fieldJson(key: string, value: unknown, keepNull = false): string {
  if (value === undefined || (value === null && !keepNull)) return "";
  if (value === null) return `,"${key}":null`;
  if (typeof value === "string") return `,"${key}":${JSON.stringify(value)}`;
  if (typeof value === "number") return `,"${key}":${Number.isFinite(value) ? String(value) : "null"}`;
  if (value !== null && typeof value === "object" && isEmptyPlainObject(value)) return `,"${key}":{}`;
  const text = JSON.stringify(value);
  return text === undefined ? "" : `,"${key}":${text}`;
}

function isEmptyPlainObject(value: object): boolean {
  if (Object.getPrototypeOf(value) !== Object.prototype) return false;
  for (const _ in value) return false;
  return true;
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
