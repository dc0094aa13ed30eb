/**
 * Settings the orchestration rules read. They are process-wide (the rules are plain objects
 * shared by every server in the process), set once by `startServer` from its configuration.
 */
export interface OrchestrationSettings {
  /** How long a task run refused a tag's concurrency slot waits before asking again. */
  tagSlotWaitSeconds: number;
}

let current: OrchestrationSettings = { tagSlotWaitSeconds: 30 };

export function orchestrationSettings(): OrchestrationSettings {
  return current;
}

export function configureOrchestration(settings: Partial<OrchestrationSettings>): void {
  current = { ...current, ...settings };
}
