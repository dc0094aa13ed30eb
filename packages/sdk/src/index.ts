/**
 * Baton SDK: `flow()` and `task()` for TypeScript, reporting to a Baton (or Prefect) server.
 * This file is the package's one way in.
 */
export { flow, type FlowFunction, type FlowOptions, type FlowHook, type FlowHookContext, type FlowRunOutcome } from "./flow.js";
export {
  task,
  unmapped,
  Unmapped,
  type TaskFunction,
  type TaskOptions,
  type TaskHook,
  type TaskHookContext,
  type Futurable,
  type SubmitArgs,
  type MapArgs,
} from "./task.js";
export { TaskRunFuture } from "./futures.js";
export { BackgroundTaskFuture, type ApplyAsyncOptions, type WaitForFuture } from "./background/delay.js";
export { serveTasks, type TaskWorkerOptions } from "./task-worker.js";
export { FileParametersStore, MissingParametersError, type ParametersStore, type StoredTaskParameters } from "./background/parameters-store.js";
export { serve, type ServeOptions, type ServeDeployment, type ServableFlow, type DeploymentOptions, type ScheduleSpec } from "./serve.js";
export { flowParameterSchema, type ParameterSchema, type ParameterProperty } from "./parameter-schema.js";
export { getRunLogger, LogShipper, type RunLogger } from "./logger.js";
export { getRunContext, type RunContext } from "./context.js";
export { configure, currentSettings, type ConfigureOptions, type Settings, type LogLevelName } from "./settings.js";
export { taskInputHash, type CacheKeyContext } from "./cache/keys.js";
export type { ResultData, ErrorData } from "./results/serializer.js";
export { CachePolicies, CachePolicy, type CachePolicyContext } from "./cache/policies.js";
export { LocalFileSystem, defaultLocalStoragePath, type ResultStorage, type LockManager } from "./results/storage.js";
export { S3Bucket, type S3BucketOptions } from "./results/s3.js";
export { JsonSerializer, V8Serializer, registerSerializer, resolveSerializer, type Serializer } from "./results/serializers.js";
export { readStateResult, readRecord, isResultReference, type LoadedRecord } from "./results/store.js";
export { defaultResultStorage, storageFromBlock } from "./results/resolve.js";
export { pruneExpiredRecords, type PruneReport } from "./results/prune.js";
export {
  transaction,
  getTransaction,
  Transaction,
  type TransactionOptions,
  type TransactionHook,
  type TransactionHookContext,
  type CommitMode,
  type IsolationLevel,
  type TransactionState,
} from "./transactions.js";
export { BatonClient, isTransient, RETRY_PAUSES_MS, type BatonClientOptions } from "./client.js";
// For pollers that claim runs (serve() here, @baton/worker's workers).
export { claimInOrder, CLAIM_CONCURRENCY } from "./claims.js";
export {
  RunFailedError,
  FlowRunFailedError,
  TaskRunFailedError,
  RunAbortedError,
  TimeoutError,
  UpstreamTaskError,
  MissingContextError,
  MissingResultError,
  InvalidOptionError,
  SettingsError,
  FlowRunSuspendedError,
  PauseTimeoutError,
  RetryHandedOffError,
  BackgroundTasksNeedServerError,
  UnknownSerializerError,
  PickleNotSupportedError,
  SerializationError,
  UnreadableResultRecordError,
  UnsupportedIsolationLevelError,
  LockTimeoutError,
  type RunKind,
} from "./errors.js";
export { ApiError, ServerUnreachableError, BatonError } from "@baton/core";
export type { FlowRun, TaskRun, State, StateType, StateDetails, Log, Flow } from "@baton/core";
export { variables, type SetVariableOptions } from "./variables.js";
export { ConflictError } from "@baton/core";
export type { Variable, JsonValue } from "@baton/core";
export {
  createMarkdownArtifact,
  createTableArtifact,
  createLinkArtifact,
  createProgressArtifact,
  updateProgressArtifact,
  createImageArtifact,
  type ArtifactOptions,
  type TableData,
} from "./artifacts.js";
export type { Artifact, ArtifactCollection, ResultRecordMetadata, ResultRecord } from "@baton/core";
export { pauseFlowRun, suspendFlowRun, type PauseOptions, type InputSchema } from "./pause.js";
export { defineBlock, type BlockDefinition, type BlockSpec, type SaveOptions } from "./blocks/block.js";
export { Secret, JSONBlock, StringBlock, DateTimeBlock, type ValueBlock } from "./blocks/system.js";
export {
  concurrency,
  rateLimit,
  acquireConcurrencySlots,
  AcquireConcurrencySlotTimeoutError,
  ConcurrencyLimitMissingError,
  type ConcurrencyOptions,
  type RateLimitOptions,
  type ConcurrencySlots,
} from "./concurrency.js";
