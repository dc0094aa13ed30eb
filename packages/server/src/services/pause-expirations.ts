import { sql, type RawBuilder } from "kysely";
import { setRunState } from "../orchestration/set-state.js";
import { LoopService } from "./service.js";

/** Most runs one pass fails; the rest wait for the next pass. */
const BATCH = 200;

/**
 * A flow run paused with a timeout (`state_details.pause_timeout`) that nobody resumed in
 * time becomes FAILED, as Prefect's FailExpiredPauses does, so it does not wait forever. A
 * pause without a timeout is left alone.
 */
export class PauseExpirationsService extends LoopService {
  readonly name = "pause_expirations";

  async runOnce(): Promise<void> {
    const { db, clock, events } = this.resources;
    const now = clock.now();
    const expired = await db.kysely
      .selectFrom("flow_run")
      .select("id")
      .where("state_type", "=", "PAUSED")
      .where(pauseTimeout(db.dialect.name), "<", now.toISOString())
      .limit(BATCH)
      .execute();
    for (const run of expired) {
      await setRunState(db, "flow_run", run.id, { type: "FAILED", name: "Failed", message: "The flow run was paused past its timeout and never resumed." }, { now, events });
    }
  }
}

/** The current state's pause timeout (NULL when it has none), comparable with an ISO timestamp. */
function pauseTimeout(dialect: "sqlite" | "postgres"): RawBuilder<string | null> {
  // Stored timestamps are normalised ISO strings, so on SQLite text order is time order.
  return dialect === "postgres"
    ? sql<string | null>`(state::jsonb -> 'state_details' ->> 'pause_timeout')::timestamptz`
    : sql<string | null>`json_extract(state, '$.state_details.pause_timeout')`;
}
