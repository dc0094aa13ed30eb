import type { BatonClient } from "./client.js";
import { currentRun } from "./context.js";
import { openSession } from "./ephemeral.js";

/**
 * Runs `fn` with a client for the server the current run reports to; outside any run, with a
 * session of its own (in ephemeral mode a temporary server for the length of the call).
 */
export async function withClient<T>(fn: (client: BatonClient) => Promise<T>): Promise<T> {
  const run = currentRun();
  if (run) return fn(run.session.client);
  const session = await openSession();
  try {
    return await fn(session.client);
  } finally {
    await session.release();
  }
}
