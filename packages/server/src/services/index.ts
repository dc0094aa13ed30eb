import { SERVICE_NAMES, type ServiceName } from "../config.js";
import { CancellationCleanupService } from "./cancellation-cleanup.js";
import { ConcurrencyLeaseExpirationsService } from "./concurrency-lease-expirations.js";
import { ForemanService } from "./foreman.js";
import { LateRunsService } from "./late-runs.js";
import { PauseExpirationsService } from "./pause-expirations.js";
import { SchedulerService } from "./scheduler.js";
import { ZombiesService } from "./zombies.js";
import { RetentionService } from "./retention.js";
import type { LoopService, ServiceResources } from "./service.js";

type ServiceFactory = (resources: ServiceResources, intervalSeconds: number) => LoopService;

/** Every background service, by name. One file per service in this folder. */
const SERVICE_FACTORIES: Partial<Record<ServiceName, ServiceFactory>> = {
  scheduler: (r, s) => new SchedulerService(r, s),
  late_runs: (r, s) => new LateRunsService(r, s),
  zombies: (r, s) => new ZombiesService(r, s),
  foreman: (r, s) => new ForemanService(r, s),
  cancellation_cleanup: (r, s) => new CancellationCleanupService(r, s),
  pause_expirations: (r, s) => new PauseExpirationsService(r, s),
  concurrency_lease_expirations: (r, s) => new ConcurrencyLeaseExpirationsService(r, s),
  retention: (r, s) => new RetentionService(r, s),
};

/** The services this configuration enables, built (not started). */
export function createServices(resources: ServiceResources, only?: readonly ServiceName[]): LoopService[] {
  const services: LoopService[] = [];
  for (const name of SERVICE_NAMES) {
    const factory = SERVICE_FACTORIES[name];
    const settings = resources.config.services[name];
    if (!factory || !settings.enabled || (only && !only.includes(name))) continue;
    services.push(factory(resources, settings.loopSeconds));
  }
  return services;
}

/** Which services exist and whether this configuration runs them (`baton server services ls`). */
export function describeServices(config: ServiceResources["config"]): Array<{ name: ServiceName; enabled: boolean; loopSeconds: number; available: boolean }> {
  return SERVICE_NAMES.map((name) => ({ name, ...config.services[name], available: SERVICE_FACTORIES[name] !== undefined }));
}

export { LoopService, systemClock, type Clock, type ServiceResources } from "./service.js";
