import { expiredLeaseIds, releaseLease } from "../db/queries/global-concurrency-limits.js";
import { LoopService } from "./service.js";

/** Most leases one pass reaps; the rest wait for the next pass. */
const BATCH = 500;

/**
 * Gives back the slots of concurrency leases nobody renewed in time: their holder (a flow
 * or task run, a worker) died or lost the server, and without this its slots would stay
 * taken forever. Prefect's concurrency lease repossessor does the same.
 */
export class ConcurrencyLeaseExpirationsService extends LoopService {
  readonly name = "concurrency_lease_expirations";

  async runOnce(): Promise<void> {
    const { db, clock, logger } = this.resources;
    const now = clock.now();
    const ids = await expiredLeaseIds(db.kysely, now, BATCH);
    let reaped = 0;
    for (const id of ids) {
      if (await releaseLease(db, id, { now, expired: true })) reaped += 1;
    }
    if (reaped > 0) logger.info({ service: this.name, leases: reaped }, `gave back the slots of ${reaped} expired concurrency lease(s)`);
  }
}
