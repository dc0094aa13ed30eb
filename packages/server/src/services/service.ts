import type { FastifyBaseLogger } from "fastify";
import type { ServerConfig } from "../config.js";
import type { Database } from "../db/database.js";
import type { EventStream } from "../events/event-stream.js";

/** Time as the services see it; tests pass a clock they can move instead of sleeping. */
export interface Clock {
  now(): Date;
}
export const systemClock: Clock = { now: () => new Date() };

/** The one bundle of resources every background service receives. */
export interface ServiceResources {
  db: Database;
  config: ServerConfig;
  clock: Clock;
  /** The event stream: services publish the state changes they make, and may consume it. */
  events: EventStream;
  logger: Pick<FastifyBaseLogger, "info" | "warn" | "error" | "debug">;
}

/**
 * A background service: `runOnce()` does one pass of its work; `start()` repeats it every
 * `intervalSeconds` until `stop()`. A failing pass is logged and the loop goes on, so one bad
 * row never stops a service. Passes never overlap.
 */
export abstract class LoopService {
  /** Lower-case name, as in BATON_SERVER_SERVICES_<NAME>_ENABLED (e.g. "late_runs"). */
  abstract readonly name: string;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;

  constructor(
    protected readonly resources: ServiceResources,
    readonly intervalSeconds: number,
  ) {}

  /** One pass of the service's work; returns when it is done. */
  abstract runOnce(): Promise<void>;

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  get isRunning(): boolean {
    return !this.stopped;
  }

  private schedule(delayMs: number): void {
    this.timer = setTimeout(() => {
      this.running = this.runOnce()
        .catch((error: unknown) => this.resources.logger.error({ err: error, service: this.name }, `service ${this.name} failed a pass`))
        .finally(() => {
          this.running = undefined;
          if (!this.stopped) this.schedule(this.intervalSeconds * 1000);
        });
    }, delayMs);
    // A service loop alone must not keep a process alive that is otherwise done.
    this.timer.unref();
  }
}
