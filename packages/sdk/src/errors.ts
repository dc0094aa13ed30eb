import { BatonError, type State } from "@baton/core";

/**
 * Errors the SDK raises. A run that ends in a non-COMPLETED state rejects with a
 * `RunFailedError` subclass carrying the run's id, name and final state; what went wrong
 * inside the run (the function's own error, or a `TimeoutError`) is its `cause`.
 */

export type RunKind = "flow" | "task";

/** A flow or task run ended FAILED, CRASHED or CANCELLED. */
export class RunFailedError extends BatonError {
  override name = "RunFailedError";
  constructor(
    readonly kind: RunKind,
    readonly runId: string,
    readonly runName: string,
    /** The final state as the server recorded it. */
    readonly state: State,
    options?: { cause?: unknown },
  ) {
    super(
      `${kind === "flow" ? "Flow" : "Task"} run '${runName}' (${runId}) finished in state ${state.name ?? state.type}${state.message ? `: ${state.message}` : ""}`,
      options,
    );
  }
}

/** A flow run ended in a non-COMPLETED state; `cause` is the error that failed it. */
export class FlowRunFailedError extends RunFailedError {
  override name = "FlowRunFailedError";
  constructor(runId: string, runName: string, state: State, options?: { cause?: unknown }) {
    super("flow", runId, runName, state, options);
  }
}

/** A task run ended in a non-COMPLETED state; `cause` is the error that failed it. */
export class TaskRunFailedError extends RunFailedError {
  override name = "TaskRunFailedError";
  constructor(runId: string, runName: string, state: State, options?: { cause?: unknown }) {
    super("task", runId, runName, state, options);
  }
}

/** The server answered ABORT to a proposed state (the run must stop at once). */
export class RunAbortedError extends BatonError {
  override name = "RunAbortedError";
  constructor(
    readonly kind: RunKind,
    readonly runId: string,
    readonly reason: string,
  ) {
    super(`${kind === "flow" ? "Flow" : "Task"} run ${runId} was aborted: ${reason}`);
  }
}

/** One attempt of a run took longer than its `timeoutSeconds`. The run's state is FAILED "TimedOut". */
export class TimeoutError extends BatonError {
  override name = "TimeoutError";
  constructor(
    readonly kind: RunKind,
    readonly runId: string,
    readonly timeoutSeconds: number,
  ) {
    super(`${kind === "flow" ? "Flow" : "Task"} run exceeded timeout of ${timeoutSeconds} second(s)`);
  }
}

/** A task's input was a future whose task run did not complete, so the task never started. */
export class UpstreamTaskError extends BatonError {
  override name = "UpstreamTaskError";
  constructor(
    readonly taskRunId: string,
    readonly upstreamTaskRunId: string,
    options?: { cause?: unknown },
  ) {
    super(`Task run ${taskRunId} did not start: upstream task run ${upstreamTaskRunId} did not complete`, options);
  }
}

/** A function that needs a run (e.g. `getRunLogger()`) was called outside a flow or task. */
export class MissingContextError extends BatonError {
  override name = "MissingContextError";
}

/** A COMPLETED state carries no result this SDK can read (untrackable, or written by another client). */
export class MissingResultError extends BatonError {
  override name = "MissingResultError";
  constructor(
    readonly stateId: string,
    reason: string,
  ) {
    super(`The result of state ${stateId} is not available: ${reason}`);
  }
}

/** `flow()` / `task()` received an invalid option; `field` names it. */
export class InvalidOptionError extends BatonError {
  override name = "InvalidOptionError";
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

/** An SDK setting (environment variable or `configure()` value) is invalid; `setting` names it. */
export class SettingsError extends BatonError {
  override name = "SettingsError";
  constructor(
    readonly setting: string,
    message: string,
  ) {
    super(`Invalid setting ${setting}: ${message}`);
  }
}

/**
 * The flow run was suspended (`suspendFlowRun`): its process stops running the flow, which a
 * worker runs again from the start once someone resumes it. Not a failure.
 */
export class FlowRunSuspendedError extends BatonError {
  override name = "FlowRunSuspendedError";
  constructor(readonly flowRunId: string) {
    super(`Flow run ${flowRunId} is suspended; it runs again from the start once resumed`);
  }
}

/** A paused flow run was not resumed before its timeout. */
export class PauseTimeoutError extends BatonError {
  override name = "PauseTimeoutError";
  constructor(
    readonly flowRunId: string,
    readonly timeoutSeconds: number,
  ) {
    super(`Flow run ${flowRunId} was not resumed within ${timeoutSeconds} s of pausing`);
  }
}

/**
 * A background task run failed with retries left: the server scheduled its retry
 * (AwaitingRetry) on the task queue, for whichever task worker claims it next.
 */
export class RetryHandedOffError extends BatonError {
  override name = "RetryHandedOffError";
  constructor(
    readonly runId: string,
    /** The AwaitingRetry state. */
    readonly state: State,
  ) {
    super(`Task run ${runId} will be retried by a task worker at ${state.state_details.scheduled_time ?? "once due"}`);
  }
}

/** `delay()` / `serveTasks()` need a Baton server to queue background task runs on. */
export class BackgroundTasksNeedServerError extends BatonError {
  override name = "BackgroundTasksNeedServerError";
  constructor(what: string) {
    super(`${what} needs a running server: set BATON_API_URL (or configure({ apiUrl })) to a server started with \`baton server start\`; a temporary in-process server would be gone before a task worker could run the task`);
  }
}

/** A result record names a serializer this process does not know (`registerSerializer` adds one). */
export class UnknownSerializerError extends BatonError {
  override name = "UnknownSerializerError";
  constructor(
    readonly serializerType: string,
    known: readonly string[],
  ) {
    super(`Unknown result serializer '${serializerType}' (known: ${known.join(", ")}); register it with registerSerializer() in every process that reads such results`);
  }
}

/**
 * A result record (or a `resultSerializer` option) names Python's pickle (`pickle`,
 * `compressed/pickle`: what Python Prefect writes for values JSON cannot hold), which Node.js
 * can neither read nor write. Still an `UnknownSerializerError`.
 */
export class PickleNotSupportedError extends UnknownSerializerError {
  override name = "PickleNotSupportedError";
  constructor(serializerType: string, known: readonly string[], record?: { key: string; location: string }) {
    super(serializerType, known);
    const what = record === undefined ? `Result serializer '${serializerType}' is` : `The result record '${record.key}' in ${record.location} uses serializer '${serializerType}':`;
    this.message = `${what} Python's pickle (Python Prefect's), which Node.js cannot read or write: have the Python side persist such results with result_serializer="json", or registerSerializer() a '${serializerType}' serializer of your own (known: ${known.join(", ")})`;
  }
}

/** A value could not be serialized with the chosen result serializer. */
export class SerializationError extends BatonError {
  override name = "SerializationError";
  constructor(
    readonly serializerType: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`Could not serialize the result with serializer '${serializerType}': ${message}`, options);
  }
}

/** A stored result record exists but cannot be read (not a result record, or its result does not deserialize). */
export class UnreadableResultRecordError extends BatonError {
  override name = "UnreadableResultRecordError";
  constructor(
    readonly storageKey: string,
    readonly location: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`The result record '${storageKey}' in ${location} cannot be read: ${reason}`, options);
  }
}

/** A transaction asked for an isolation level its result storage cannot provide. */
export class UnsupportedIsolationLevelError extends BatonError {
  override name = "UnsupportedIsolationLevelError";
  constructor(
    readonly isolationLevel: string,
    storage: string,
    reason = "it needs a lock, and this storage has no lock manager (LocalFileSystem locks with lock files; S3Bucket with conditional writes when made with `locking: true`)",
  ) {
    super(`Isolation level ${isolationLevel} is not supported by the result storage ${storage}: ${reason}`);
  }
}

/**
 * A SERIALIZABLE transaction waited `waitedSeconds` for the lock on `key` (its
 * `lockTimeoutSeconds` was `timeoutSeconds`) while someone else held it. `lock` is where the
 * lock lives (a lock file, an S3 object), to find its holder.
 */
export class LockTimeoutError extends BatonError {
  override name = "LockTimeoutError";
  constructor(
    readonly key: string,
    readonly waitedSeconds: number,
    readonly timeoutSeconds: number,
    readonly lock: string,
  ) {
    super(`Timed out after waiting ${waitedSeconds} s (lockTimeoutSeconds: ${timeoutSeconds}) for the lock on transaction '${key}' (${lock})`);
  }
}
