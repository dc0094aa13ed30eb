import { sql } from "kysely";
import { setRunState } from "../orchestration/set-state.js";
import { LoopService } from "./service.js";

/** Most runs each step of a pass changes; the rest wait for the next pass. */
const BATCH = 200;
/** Cancelled flow runs whose children are still looked after, as in Prefect: the last day's. */
const CASCADE_WINDOW_MS = 24 * 3600 * 1000;
const PARENT_CANCELLED = "The parent flow run was cancelled.";

/**
 * Finishes cancellations that nothing else will finish:
 *
 * 1. A CANCELLING flow run with no `infrastructure_pid` has nothing a worker could stop, so it
 *    becomes CANCELLED at once. One with a pid becomes CANCELLED when it is still CANCELLING
 *    after BATON_SERVER_SERVICES_CANCELLATION_CLEANUP_TIMEOUT_SECONDS: the worker that should
 *    have stopped it and confirmed is gone, and waiting longer would leave it CANCELLING forever.
 * 2. The subflow runs of a flow run cancelled in the last day (flow runs whose
 *    `parent_task_run_id` is one of its task runs) that are not finished are cancelled: those
 *    with infrastructure become CANCELLING so their worker stops them, the rest CANCELLED.
 * 3. The unfinished task runs of a flow run cancelled in the last day become CANCELLED.
 *
 * Subflows are handled before task runs, so a subflow cancelled in step 2 has its task runs
 * cancelled in step 3 of the same pass; deeper levels follow one level per pass. Every change
 * goes through the orchestration rules without `force`: none of these transitions is one a
 * rule forbids, and a run that finished meanwhile is left as it finished.
 */
export class CancellationCleanupService extends LoopService {
  readonly name = "cancellation_cleanup";

  async runOnce(): Promise<void> {
    const now = this.resources.clock.now();
    await this.finishCancelling(now);
    await this.cancelSubflows(now);
    await this.cancelTaskRuns(now);
  }

  private async finishCancelling(now: Date): Promise<void> {
    const { db, config, events } = this.resources;
    const timeoutSeconds = config.cancellationCleanupTimeoutSeconds;
    const cutoff = new Date(now.getTime() - timeoutSeconds * 1000).toISOString();
    const runs = await db.kysely
      .selectFrom("flow_run")
      .select(["id", "infrastructure_pid"])
      .where("state_type", "=", "CANCELLING")
      .where((eb) => eb.or([eb(sql`coalesce(infrastructure_pid, '')`, "=", ""), eb("state_timestamp", "<=", cutoff)]))
      .orderBy("state_timestamp")
      .limit(BATCH)
      .execute();
    for (const run of runs) {
      const message = run.infrastructure_pid
        ? `Cancelled: its infrastructure (${run.infrastructure_pid}) did not confirm the cancellation within ${timeoutSeconds} s.`
        : "Cancelled: the run had no infrastructure to stop.";
      await setRunState(db, "flow_run", run.id, { type: "CANCELLED", name: "Cancelled", message }, { now, events });
    }
  }

  private async cancelSubflows(now: Date): Promise<void> {
    const { db, events } = this.resources;
    const since = new Date(now.getTime() - CASCADE_WINDOW_MS).toISOString();
    const subflows = await db.kysely
      .selectFrom("flow_run as parent")
      .innerJoin("task_run as stand_in", "stand_in.flow_run_id", "parent.id")
      .innerJoin("flow_run as child", "child.parent_task_run_id", "stand_in.id")
      .select(["child.id", "child.infrastructure_pid"])
      .where("parent.state_type", "=", "CANCELLED")
      .where("parent.end_time", ">=", since)
      .where("child.state_type", "in", ["SCHEDULED", "PENDING", "RUNNING", "PAUSED"])
      .limit(BATCH)
      .execute();
    for (const child of subflows) {
      // A child already CANCELLING is left to step 1, which may not move it back to CANCELLING.
      const type = child.infrastructure_pid ? "CANCELLING" : "CANCELLED";
      await setRunState(db, "flow_run", child.id, { type, name: type === "CANCELLING" ? "Cancelling" : "Cancelled", message: PARENT_CANCELLED }, { now, events });
    }
  }

  private async cancelTaskRuns(now: Date): Promise<void> {
    const { db, events } = this.resources;
    const since = new Date(now.getTime() - CASCADE_WINDOW_MS).toISOString();
    const taskRuns = await db.kysely
      .selectFrom("flow_run as parent")
      .innerJoin("task_run", "task_run.flow_run_id", "parent.id")
      .select("task_run.id")
      .where("parent.state_type", "=", "CANCELLED")
      .where("parent.end_time", ">=", since)
      .where("task_run.state_type", "in", ["SCHEDULED", "PENDING", "RUNNING", "PAUSED", "CANCELLING"])
      .limit(BATCH)
      .execute();
    for (const taskRun of taskRuns) {
      await setRunState(db, "task_run", taskRun.id, { type: "CANCELLED", name: "Cancelled", message: PARENT_CANCELLED }, { now, events });
    }
  }
}
