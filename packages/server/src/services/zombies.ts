import { flowRunPolicy } from "../db/queries/runs.js";
import { setRunState } from "../orchestration/set-state.js";
import { LoopService } from "./service.js";

/** Most runs one pass declares crashed; the rest wait for the next pass. */
const BATCH = 200;

/**
 * Finds RUNNING flow runs whose process stopped sending heartbeats (`prefect.flow-run.heartbeat`
 * events, every 30 s from the Baton SDK) for longer than
 * BATON_SERVER_SERVICES_ZOMBIES_HEARTBEAT_TIMEOUT_SECONDS, and declares them CRASHED: the
 * machine died, the process was killed with SIGKILL, the network went away. A crashed run
 * with retries left and a deployment is scheduled again at once (after its retry delay), so
 * a worker picks it up.
 *
 * Only runs that have sent at least one heartbeat are judged, as in Prefect (its zombie
 * automation starts from a heartbeat): a client that does not send them (Prefect's own
 * clients by default) would otherwise see every run longer than the timeout crashed, and
 * retried while it is still running. The Baton SDK sends its first heartbeat as soon as the
 * run is RUNNING, so a process that dies at any point is caught. Task runs are not judged:
 * they run inside their flow run's process, whose heartbeat speaks for them.
 */
export class ZombiesService extends LoopService {
  readonly name = "zombies";

  async runOnce(): Promise<void> {
    const { db, clock, config, logger, events } = this.resources;
    const now = clock.now();
    const timeoutSeconds = config.zombieHeartbeatTimeoutSeconds;
    const cutoff = new Date(now.getTime() - timeoutSeconds * 1000).toISOString();
    const zombies = await db.kysely
      .selectFrom("flow_run")
      .select(["id", "last_heartbeat", "state_timestamp"])
      .where("state_type", "=", "RUNNING")
      .where("last_heartbeat", "is not", null)
      .where("last_heartbeat", "<", cutoff)
      // A run that just (re)entered RUNNING gets a full timeout for its new process's first heartbeat.
      .where("state_timestamp", "<", cutoff)
      .orderBy("last_heartbeat")
      .limit(BATCH)
      .execute();
    for (const run of zombies) {
      const lastSign = Math.max(Date.parse(run.last_heartbeat!), Date.parse(run.state_timestamp!));
      const silentSeconds = Math.round((now.getTime() - lastSign) / 1000);
      const message = `Flow run marked as crashed: no heartbeat for ${silentSeconds} s (timeout ${timeoutSeconds} s); its process is presumed dead.`;
      const crashed = await setRunState(db, "flow_run", run.id, { type: "CRASHED", name: "Crashed", message }, { now, events });
      // Refused when the run finished or was cancelled since it was read: nothing to do then.
      if (crashed.status !== "ACCEPT") continue;
      logger.info({ service: this.name, flowRunId: run.id }, message);
      await this.retryIfAllowed(run.id, now, message);
    }
  }

  /**
   * Retries count attempts as the engine does: a run that has made `run_count` attempts may
   * make another while `run_count <= retries`. Without a deployment no worker would run it.
   */
  private async retryIfAllowed(runId: string, now: Date, crashMessage: string): Promise<void> {
    const { db, events } = this.resources;
    const run = await db.kysely.selectFrom("flow_run").select(["run_count", "deployment_id", "empirical_policy"]).where("id", "=", runId).executeTakeFirst();
    if (!run?.deployment_id) return;
    const policy = flowRunPolicy(run);
    const retries = policy.retries ?? policy.max_retries;
    if (run.run_count > retries) return;
    const delaySeconds = policy.retry_delay ?? policy.retry_delay_seconds;
    const scheduledTime = new Date(now.getTime() + delaySeconds * 1000).toISOString();
    await setRunState(
      db,
      "flow_run",
      runId,
      {
        type: "SCHEDULED",
        name: "AwaitingRetry",
        message: `Retrying after a crash (attempt ${run.run_count} of ${retries + 1}). ${crashMessage}`,
        state_details: { scheduled_time: scheduledTime },
      },
      { now, events },
    );
  }
}
