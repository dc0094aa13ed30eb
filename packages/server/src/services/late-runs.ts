import { sql } from "kysely";
import { setRunState } from "../orchestration/set-state.js";
import { LoopService } from "./service.js";

/** Most runs one pass marks; the rest wait for the next pass. */
const BATCH = 500;

/**
 * Marks Scheduled flow runs that are past due by more than BATON_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS
 * as Scheduled "Late" (same scheduled time), so people and the UI see that nothing picked
 * them up. The rule OnlyScheduledRunsBecomeLate refuses the change if a worker claimed the
 * run meanwhile.
 */
export class LateRunsService extends LoopService {
  readonly name = "late_runs";

  async runOnce(): Promise<void> {
    const { db, clock, config, events } = this.resources;
    const now = clock.now();
    const cutoff = new Date(now.getTime() - config.lateRunsAfterSeconds * 1000).toISOString();
    const late = await db.kysely
      .selectFrom("flow_run")
      .select(["id", "next_scheduled_start_time"])
      .where("state_type", "=", "SCHEDULED")
      .where("next_scheduled_start_time", "<=", cutoff)
      .where(sql<boolean>`coalesce(state_name, '') <> 'Late'`)
      .orderBy("next_scheduled_start_time")
      .limit(BATCH)
      .execute();
    for (const run of late) {
      await setRunState(
        db,
        "flow_run",
        run.id,
        { type: "SCHEDULED", name: "Late", state_details: { scheduled_time: run.next_scheduled_start_time } },
        { now, events },
      );
    }
  }
}
