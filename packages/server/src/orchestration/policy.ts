import type { OrchestrationRule } from "./context.js";
import { claimBackgroundTaskRuns, keepBackgroundTaskDetails } from "./rules/background-task-runs.js";
import { bypassCancellingWithoutInfrastructure } from "./rules/bypass-cancelling-without-infrastructure.js";
import { cacheInsertion } from "./rules/cache-insertion.js";
import { cacheRetrieval } from "./rules/cache-retrieval.js";
import { copyScheduledTime } from "./rules/copy-scheduled-time.js";
import { enforceDeploymentConcurrency } from "./rules/deployment-concurrency.js";
import { enforceCancellingToCancelled } from "./rules/enforce-cancelling-to-cancelled.js";
import { enforceWorkPoolConcurrency } from "./rules/enforce-work-pool-concurrency.js";
import { enforceWorkQueueConcurrency } from "./rules/enforce-work-queue-concurrency.js";
import { handleTerminalTransitions } from "./rules/handle-terminal-transitions.js";
import { onlyScheduledRunsBecomeLate } from "./rules/only-scheduled-runs-become-late.js";
import { preventDuplicatePending } from "./rules/prevent-duplicate-pending.js";
import { preventDuplicateTransitions } from "./rules/prevent-duplicate-transitions.js";
import { preventStaleClaims } from "./rules/prevent-stale-claims.js";
import { retryFailedFlows } from "./rules/retry-failed-flows.js";
import { releaseTaskConcurrencySlots } from "./rules/release-task-concurrency-slots.js";
import { retryFailedTasks } from "./rules/retry-failed-tasks.js";
import { secureTaskConcurrencySlots } from "./rules/secure-task-concurrency-slots.js";
import { waitForScheduledTime } from "./rules/wait-for-scheduled-time.js";

/**
 * The rules each proposed transition passes, in order; the first that decides something
 * other than "go on" ends the evaluation. Retries come before the terminal-state rule so a
 * failing run with retries left is rescheduled rather than finished.
 */
export const FLOW_RUN_POLICY: readonly OrchestrationRule[] = [
  preventDuplicateTransitions,
  onlyScheduledRunsBecomeLate,
  handleTerminalTransitions,
  enforceCancellingToCancelled,
  bypassCancellingWithoutInfrastructure,
  preventDuplicatePending,
  preventStaleClaims,
  enforceWorkPoolConcurrency,
  enforceWorkQueueConcurrency,
  enforceDeploymentConcurrency,
  copyScheduledTime,
  waitForScheduledTime,
  retryFailedFlows,
];

export const TASK_RUN_POLICY: readonly OrchestrationRule[] = [
  keepBackgroundTaskDetails,
  preventDuplicateTransitions,
  claimBackgroundTaskRuns,
  handleTerminalTransitions,
  enforceCancellingToCancelled,
  preventDuplicatePending,
  copyScheduledTime,
  waitForScheduledTime,
  retryFailedTasks,
  cacheRetrieval,
  // Last of the rules that judge a start, so a slot is only taken by a start that is written.
  secureTaskConcurrencySlots,
  cacheInsertion,
  releaseTaskConcurrencySlots,
];
