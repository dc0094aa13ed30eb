import { randomUUID } from "node:crypto";
import { isTerminal, type State, type TaskRun } from "@baton/core";
import type { BatonClient } from "../client.js";
import { openSession } from "../ephemeral.js";
import { BackgroundTasksNeedServerError, TaskRunFailedError } from "../errors.js";
import { collectFutures, resolveFutures, TaskRunFuture } from "../futures.js";
import type { TaskDefinition } from "../engine/task-engine.js";
import { namedParameters } from "../engine/parameters.js";
import { sleep } from "../engine/retries.js";
import { taskRunPolicy } from "../engine/wire.js";
import { readStateResult } from "../results/store.js";
import { currentSettings } from "../settings.js";
import type { TaskOptions } from "../task.js";
import { parametersStore } from "./parameters-store.js";

/** What a background task run may wait for before it is queued. */
export type WaitForFuture = TaskRunFuture<unknown> | BackgroundTaskFuture<unknown>;

export interface ApplyAsyncOptions {
  /** Runs that must finish (in any state) before this one is queued. */
  waitFor?: readonly WaitForFuture[];
}

/** Polls of a background run's state: quick at first, then once a second. */
const FIRST_POLL_MS = 50;
const MAX_POLL_MS = 1000;

/**
 * A background task run (`task.delay()` / `task.applyAsync()`): a task run without a flow run,
 * queued on the server until a task worker (`serveTasks()`) runs it. The run is created as
 * soon as its arguments (and `waitFor`) are ready; `result()` and `wait()` then follow it by
 * reading its state from the server until it finishes, so nothing is polled until asked.
 *
 * @example
 * const future = sendEmail.delay("ada@example.com");
 * const receipt = await future.result();   // once a task worker has run it
 */
export class BackgroundTaskFuture<R> {
  readonly #created: Promise<TaskRun>;
  readonly #client: Promise<BatonClient>;
  #state: State | undefined;
  #outcome: Promise<R> | undefined;

  /** @internal Made by `task.delay()` / `task.applyAsync()`. */
  constructor(
    /** The task run's id (chosen by the SDK, so known at once). */
    readonly taskRunId: string,
    created: Promise<{ taskRun: TaskRun; client: BatonClient }>,
  ) {
    this.#created = created.then(({ taskRun }) => {
      this.#state = taskRun.state ?? undefined;
      return taskRun;
    });
    this.#client = created.then(({ client }) => client);
    // A delay() nobody awaits must not crash the process with an unhandled rejection.
    this.#created.catch(() => undefined);
    this.#client.catch(() => undefined);
  }

  /** The run's latest known state (SCHEDULED once created; updated while `result()` / `wait()` follow it). */
  get state(): State | undefined {
    return this.#state;
  }

  /** Resolves once the run exists on the server (queued for a task worker); rejects if it could not be created. */
  async created(): Promise<TaskRun> {
    return this.#created;
  }

  /** The task's return value once a task worker has run it; rejects with `TaskRunFailedError` if it failed. */
  result(): Promise<R> {
    this.#outcome ??= this.#follow();
    return this.#outcome;
  }

  /** Resolves when the run has finished, whatever its final state (or could not be created); see `state`. */
  async wait(): Promise<void> {
    await this.result().then(
      () => undefined,
      () => undefined,
    );
  }

  async #follow(): Promise<R> {
    const taskRun = await this.#created;
    const client = await this.#client;
    let pause = FIRST_POLL_MS;
    for (;;) {
      const run = await client.readTaskRun(taskRun.id);
      const state = run.state;
      if (state) this.#state = state;
      if (state && isTerminal(state.type)) {
        if (state.type === "COMPLETED") return (await readStateResult(state, client)) as R;
        throw new TaskRunFailedError(run.id, run.name, state);
      }
      await sleep(pause);
      pause = Math.min(pause * 2, MAX_POLL_MS);
    }
  }
}

/**
 * Creates a background task run for `def` called with `args`: its parameters go to the
 * parameters store, and the run is created SCHEDULED with `deferred` and their id, as
 * Prefect's `Task.apply_async` does; the server then offers it to a task worker.
 */
export function applyAsync<A extends unknown[], R>(def: TaskDefinition<A, R>, args: readonly unknown[], options: ApplyAsyncOptions = {}): BackgroundTaskFuture<R> {
  if (currentSettings().apiUrl === undefined) throw new BackgroundTasksNeedServerError(`${def.name}.delay()`);
  const taskRunId = randomUUID();
  return new BackgroundTaskFuture<R>(taskRunId, createBackgroundRun(def, args, options, taskRunId));
}

async function createBackgroundRun<A extends unknown[], R>(
  def: TaskDefinition<A, R>,
  args: readonly unknown[],
  options: ApplyAsyncOptions,
  taskRunId: string,
): Promise<{ taskRun: TaskRun; client: BatonClient }> {
  const session = await openSession();
  try {
    const waitFor = options.waitFor ?? [];
    await Promise.all(waitFor.map((future) => future.wait()));
    const upstream = collectFutures([...args]).map((future) => future.taskRunId);
    const resolved = (await resolveFutures([...args])) as unknown[];
    const parameters = namedParameters(def.fn, resolved);
    const parametersId = await parametersStore.write({ parameters: checkJson(def.name, parameters) });
    const taskRun = await session.client.createTaskRun({
      id: taskRunId,
      name: `${def.name}-${taskRunId.slice(0, 8)}`,
      flow_run_id: null,
      task_key: def.taskKey,
      dynamic_key: taskRunId,
      task_version: def.options.version ?? null,
      empirical_policy: taskRunPolicy(def.options as TaskOptions<never>),
      tags: def.options.tags ?? [],
      task_inputs: {
        ...(upstream.length > 0 ? { __parents__: upstream.map((id) => ({ input_type: "task_run" as const, id })) } : {}),
        ...(waitFor.length > 0 ? { wait_for: waitFor.map((future) => ({ input_type: "task_run" as const, id: future.taskRunId })) } : {}),
      },
      state: { type: "SCHEDULED", name: "Scheduled", state_details: { deferred: true, task_parameters_id: parametersId } },
    });
    return { taskRun, client: session.client };
  } finally {
    await session.release();
  }
}

/** Parameters travel as JSON: a value JSON cannot carry is refused before anything is queued. */
function checkJson(taskName: string, parameters: Record<string, unknown>): Record<string, unknown> {
  for (const [name, value] of Object.entries(parameters)) {
    let text: string | undefined;
    try {
      text = JSON.stringify(value);
    } catch (error) {
      throw new TypeError(`${taskName}.delay(): parameter '${name}' cannot be sent to a task worker as JSON: ${(error as Error).message}`);
    }
    if (text === undefined && value !== undefined) {
      throw new TypeError(`${taskName}.delay(): parameter '${name}' cannot be sent to a task worker as JSON (a ${typeof value})`);
    }
  }
  return parameters;
}
