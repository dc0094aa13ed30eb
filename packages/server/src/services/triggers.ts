import { ActionExecutor } from "../automations/actions.js";
import { onAutomationsChanged } from "../automations/changes.js";
import { TriggerEngine } from "../automations/trigger-engine.js";
import { LoopService, type ServiceResources } from "./service.js";

/** The consumer group under which the trigger engine reads the event stream. */
export const TRIGGERS_CONSUMER_GROUP = "triggers";

/**
 * How many times a batch of events is evaluated before a failing one is given up. The engine
 * rolls a failed evaluation back (nothing counted, no action taken), so the batch is handed
 * back to the stream to be delivered again, after the stream's backoff: a transient failure
 * (a deadlock, a lost connection, the database restarting) loses no event. A batch that still
 * fails is dropped, logged, so that it does not hold up every event behind it.
 */
export const MAX_EVALUATION_ATTEMPTS = 5;

/**
 * Automations: consumes every event as the group "triggers" (reactive evaluation, at once)
 * and, every loop, evaluates proactive triggers whose window closed without the events they
 * expected and resolves the reactive triggers whose quiet window after a firing has passed.
 * Actions run through the server's own API. Needs `events` and `api` in its resources;
 * without them it does nothing but say so.
 */
export class TriggersService extends LoopService {
  readonly name = "triggers";
  readonly engine: TriggerEngine | undefined;
  readonly executor: ActionExecutor | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private stopListening: (() => void) | undefined;
  /** Failed evaluations so far of events not yet evaluated, by event id. */
  private readonly failedAttempts = new Map<string, number>();

  constructor(resources: ServiceResources, intervalSeconds: number) {
    super(resources, intervalSeconds);
    const { api, events, db, clock, logger } = resources;
    if (!api) return;
    this.executor = new ActionExecutor({ api, clock, logger, publish: (batch) => events.publish(batch) });
    const executor = this.executor;
    this.engine = new TriggerEngine({ db, clock, logger, act: (automation, firing) => executor.act(automation, firing) });
  }

  override start(): void {
    super.start();
    const { events, logger } = this.resources;
    const engine = this.engine;
    if (!engine) {
      logger.warn({ service: this.name }, "the triggers service has no API to act through; automations will not run in this process");
      return;
    }
    this.stopListening = onAutomationsChanged(() => engine.automationsChanged());
    void events
      .consume(TRIGGERS_CONSUMER_GROUP, async (batch) => {
        try {
          await engine.handle(batch);
          for (const event of batch) this.failedAttempts.delete(event.id);
        } catch (error) {
          const attempts = Math.max(0, ...batch.map((event) => this.failedAttempts.get(event.id) ?? 0)) + 1;
          if (attempts >= MAX_EVALUATION_ATTEMPTS) {
            for (const event of batch) this.failedAttempts.delete(event.id);
            logger.error({ err: error, service: this.name, events: batch.length, attempts }, "reactive trigger evaluation failed; the batch is dropped");
            return;
          }
          for (const event of batch) this.failedAttempts.set(event.id, attempts);
          // Thrown, the batch is delivered again (the stream logs it).
          throw error;
        }
      })
      .then((unsubscribe) => {
        this.unsubscribe = unsubscribe;
        if (!this.isRunning) void unsubscribe();
      });
  }

  override async stop(): Promise<void> {
    this.stopListening?.();
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
    await super.stop();
    await this.engine?.idle();
    await this.executor?.drain();
  }

  async runOnce(): Promise<void> {
    await this.engine?.evaluateProactive();
  }
}
