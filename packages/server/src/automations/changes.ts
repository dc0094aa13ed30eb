/**
 * In-process notice that automations were created, changed or deleted, so the trigger engine
 * of this process reloads them before the next event (engines in other processes notice the
 * change in the database within a second).
 */
const listeners = new Set<() => void>();

export function onAutomationsChanged(listener: () => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}

export function notifyAutomationsChanged(): void {
  for (const listener of listeners) listener();
}
