/**
 * Baton workers: poll a work pool, claim its flow runs and run each one, and
 * `executeFlowRun`, what `baton flow-run execute ID` runs in a flow run's own process.
 */
export { BaseWorker, stderrLogger, type BaseWorkerOptions, type WorkerLogger } from "./base-worker.js";
export { ProcessWorker, type ProcessWorkerOptions } from "./process-worker.js";
export { executeFlowRun, loadFlow, type ExecuteOptions, type ExecuteResult } from "./execute.js";
export { WorkerError, EntrypointError, FlowRunNotExecutableError } from "./errors.js";
