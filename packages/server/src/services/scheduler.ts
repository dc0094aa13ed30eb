import { upcomingScheduledRuns, activeSchedulesPage } from "../db/queries/deployments.js";
import { scheduleDeploymentRuns, schedulerWindow } from "../scheduling/schedule-runs.js";
import { LoopService } from "./service.js";

/**
 * Keeps every active schedule of every deployment that is not paused filled ahead, as
 * Prefect's scheduler does: each schedule gets runs from now up to
 * BATON_SERVER_SERVICES_SCHEDULER_MAX_SCHEDULED_TIME_SECONDS ahead, at most ..._MAX_RUNS (or
 * the schedule's `max_scheduled_runs`), stopping once it has ..._MIN_RUNS and reaches
 * ..._MIN_SCHEDULED_TIME_SECONDS ahead.
 *
 * Deployments are read ..._DEPLOYMENT_BATCH_SIZE at a time, by id, so each is looked at once
 * per pass; only schedules short of those minimums are filled, runs are inserted
 * ..._INSERT_BATCH_SIZE to a statement. Every run's idempotency key names its deployment,
 * schedule and time, so two schedulers running at once (two processes, or two servers on one
 * database) never create the same run twice; on PostgreSQL the second also skips the
 * deployments the first is filling.
 */
export class SchedulerService extends LoopService {
  readonly name = "scheduler";

  async runOnce(): Promise<void> {
    const { db, clock, config } = this.resources;
    const settings = config.scheduler;
    const now = clock.now();
    const window = schedulerWindow(settings, now);
    let after: string | null = null;
    for (;;) {
      const page = await activeSchedulesPage(db.kysely, after, settings.deploymentBatchSize);
      if (page.length === 0) return;
      const deploymentIds = [...new Set(page.map((p) => p.deployment_id))];
      after = deploymentIds[deploymentIds.length - 1]!;
      const upcoming = await upcomingScheduledRuns(db.kysely, deploymentIds, now.toISOString());
      // A schedule needs runs while it has fewer than the minimum ahead, or none far enough ahead.
      const due = page.filter(({ schedule }) => {
        const runs = upcoming.get(schedule.id);
        const wanted = Math.min(settings.minRuns, schedule.max_scheduled_runs ?? Infinity);
        return !runs || runs.count < wanted || Date.parse(runs.latest) < window.minTime.getTime();
      });
      if (due.length > 0) {
        const created = await scheduleDeploymentRuns(db, [...new Set(due.map((d) => d.deployment_id))], {
          window,
          now,
          insertBatchSize: settings.insertBatchSize,
          scheduleIds: new Set(due.map((d) => d.schedule.id)),
          skipLocked: true,
        });
        if (created.length > 0) this.resources.logger.debug({ service: this.name, runs: created.length }, "scheduled flow runs");
      }
      if (deploymentIds.length < settings.deploymentBatchSize) return;
    }
  }
}
