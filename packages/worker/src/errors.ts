import { BatonError } from "@baton/core";

/** Something a worker, or `baton flow-run execute`, could not do. */
export class WorkerError extends BatonError {
  override name = "WorkerError";
}

/** A deployment's `entrypoint` that does not lead to a flow. */
export class EntrypointError extends WorkerError {
  override name = "EntrypointError";
  constructor(
    readonly entrypoint: string,
    readonly reason: string,
  ) {
    super(`Cannot load the flow at entrypoint '${entrypoint}': ${reason}`);
  }
}

/** A flow run that `flow-run execute` will not start: it has no deployment, or it was cancelled or finished. */
export class FlowRunNotExecutableError extends WorkerError {
  override name = "FlowRunNotExecutableError";
  constructor(
    readonly flowRunId: string,
    readonly reason: string,
  ) {
    super(`Flow run ${flowRunId} cannot be executed: ${reason}`);
  }
}
