import type { Automation, CompositeTrigger, EventTrigger, ReceivedEvent, Trigger } from "@baton/core";
import type { Database, Executor } from "../db/database.js";
import { automationsVersion, readAllAutomations } from "../db/queries/automations.js";
import {
  clearChildFirings,
  clearOldChildFirings,
  clearTriggered,
  ensureBucket,
  incrementBucket,
  markTriggered,
  readBucket,
  readBucketsForTrigger,
  readChildFirings,
  readTriggered,
  readTriggeredAmong,
  readTriggeredDue,
  removeBucket,
  removeBucketsReaching,
  startNewBucket,
  sweepClosedBuckets,
  takeBucket,
  upsertChildFiring,
  type Bucket,
  type BucketRef,
  type TriggeredExpectation,
} from "../db/queries/trigger-state.js";
import type { Clock } from "../services/service.js";
import { newFiring, type Firing } from "./firing.js";
import { TriggerMatcher } from "./matching.js";
import { RecentIds } from "./recent-ids.js";

/** How far before an event a trigger's first window opens, so events arriving slightly out of order still count (Prefect's PRECEDING_EVENT_LOOKBACK). */
export const PRECEDING_EVENT_LOOKBACK_MS = 15_000;
/** Closed windows are kept this long before they are swept (Prefect's EXPIRED_BUCKET_BUFFER). */
export const EXPIRED_BUCKET_BUFFER_MS = 60_000;
/** Event ids remembered to skip redeliveries (the stream delivers at least once). */
const SEEN_EVENTS = 10_000;
/** Automations changed by another process are noticed within this long. */
const RELOAD_CHECK_MS = 1_000;

interface Logger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface TriggerEngineOptions {
  db: Database;
  clock: Clock;
  logger: Logger;
  /**
   * Called when an automation's top-level trigger fires or resolves (`firing.trigger_states`):
   * run its actions. Called only after the evaluation that decided it has committed.
   */
  act(automation: Automation, firing: Firing): Promise<void>;
}

/** An event trigger as loaded: the automation it belongs to and the composite trigger above it, if any. */
interface LoadedTrigger {
  automation: Automation;
  trigger: EventTrigger;
  matcher: TriggerMatcher;
  parent: CompositeTrigger | null;
}

/** An automation to act on a firing (or resolution) of its trigger. */
interface Decision {
  automation: Automation;
  firing: Firing;
}

const seconds = (s: number): number => s * 1000;

/**
 * A top-level Reactive trigger with no window, no `after` and a threshold of at most 1 fires
 * for every expected event and keeps no state between events (the common "when X happens").
 */
function stateless(loaded: LoadedTrigger): boolean {
  const { trigger, parent } = loaded;
  return parent === null && trigger.posture === "Reactive" && trigger.within === 0 && trigger.threshold <= 1 && trigger.after.length === 0;
}

/**
 * Whether the trigger can resolve after it fired: a Proactive trigger, a Reactive one with a
 * window, or a composite with such a trigger inside. A Reactive trigger without a window fires
 * for each event and has no condition that could clear, so it is never put in the Triggered state.
 */
export function resolvable(trigger: Trigger): boolean {
  if (trigger.type === "event") return trigger.posture === "Proactive" || trigger.within > 0;
  return trigger.triggers.some(resolvable);
}

/** How many of a composite's children must have fired for it to fire (and stay Triggered). */
function expectedFirings(parent: CompositeTrigger): number {
  if (parent.type === "sequence") return parent.triggers.length;
  return parent.require === "any" ? 1 : parent.require === "all" ? parent.triggers.length : parent.require;
}

const labelsOf = (trigger: EventTrigger, key: readonly string[]): Record<string, string> =>
  Object.fromEntries([...trigger.for_each].sort().map((label, i) => [label, key[i] ?? ""]));

/**
 * Evaluates automations' triggers, as Prefect's triggers service does: `handle()` is fed
 * every event (the reactive side), `evaluateProactive()` runs periodically (the proactive side:
 * firing when expected events did not come). All state lives in the database (one bucket per
 * event trigger and `for_each` key, child firings of composite triggers), so a restart picks
 * up where it stopped. Evaluations run one at a time, in arrival order.
 *
 * A trigger that fires enters the Triggered state (per `for_each` key, kept in the database)
 * until its condition clears; then it resolves, once, and the automation's
 * `actions_on_resolve` run (see `resolveEvent`):
 * - Proactive: when the expected events come back (the window they count in reaches the
 *   threshold; with `after`, at the first expected event, since no window is open then);
 * - Reactive with a window: when a whole window passes after its firing without it firing again;
 * - compound/sequence: when fewer of its children are Triggered than it needs to fire.
 */
export class TriggerEngine {
  private triggers = new Map<string, LoadedTrigger>();
  /** Composite triggers by automation and id, with the composite above each. */
  private composites = new Map<string, { automation: Automation; trigger: CompositeTrigger; parent: CompositeTrigger | null }>();
  private nextProactiveRuns = new Map<string, number>();
  private loadedVersion: string | undefined;
  private lastVersionCheck = 0;
  private dirty = true;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly seen = new RecentIds(SEEN_EVENTS);
  /**
   * Where trigger state is read and written during an evaluation: the transaction of the
   * current batch (one commit per batch, not one per statement: on PostgreSQL each commit waits
   * for the WAL to reach the disk).
   */
  private ex: Executor;
  /** The actions decided by the evaluation in progress, not yet taken. */
  private decided: Decision[] | undefined;

  constructor(private readonly options: TriggerEngineOptions) {
    this.ex = options.db.kysely;
  }

  /**
   * Runs one evaluation: `fn` with `this.ex` bound to one write transaction (or, for a batch
   * only stateless triggers cover, to the database: they write nothing). The actions it
   * decides on are collected, and taken only once the transaction has committed: were they
   * taken as decided, a transaction that then rolled back (a failed statement, a conflict)
   * would leave actions taken for a firing that never happened, and taken again when the
   * evaluation is retried. Nothing inside may use `db.kysely` (on SQLite its one connection
   * is held).
   */
  private async evaluation(fn: () => Promise<void>, transactional = true): Promise<void> {
    const decided: Decision[] = [];
    this.decided = decided;
    try {
      if (!transactional) await fn();
      else {
        await this.options.db.write(async (trx) => {
          this.ex = trx;
          try {
            await fn();
          } finally {
            this.ex = this.options.db.kysely;
          }
        });
      }
    } finally {
      this.decided = undefined;
    }
    for (const { automation, firing } of decided) {
      try {
        await this.options.act(automation, firing);
      } catch (error) {
        this.options.logger.error({ err: error, automation: automation.id, trigger: firing.trigger_id }, "taking an automation's actions failed");
      }
    }
  }

  /** The evaluation in progress decided that `automation` acts on `firing` (see `evaluation`). */
  private decide(automation: Automation, firing: Firing): void {
    if (!this.decided) throw new Error("an automation acted outside an evaluation");
    this.decided.push({ automation, firing });
  }

  /** The number of event triggers loaded (enabled automations only). */
  get triggerCount(): number {
    return this.triggers.size;
  }

  /** Tells the engine an automation was created, changed or deleted in this process: it reloads before the next evaluation. */
  automationsChanged(): void {
    this.dirty = true;
  }

  /**
   * Reactive evaluation of a batch of events, in order; an event seen before (redelivered, or
   * twice in this batch) is skipped. They count as seen once evaluated, so a batch whose
   * evaluation failed is evaluated again when it comes again.
   */
  handle(events: readonly ReceivedEvent[]): Promise<void> {
    return this.serially(async () => {
      await this.refresh();
      const fresh: ReceivedEvent[] = [];
      const inBatch = new Set<string>();
      for (const event of events) {
        if (this.seen.has(event.id) || inBatch.has(event.id)) continue;
        inBatch.add(event.id);
        fresh.push(event);
      }
      const interested = this.triggers.size === 0 ? "none" : this.interest(fresh);
      if (interested !== "none") {
        await this.evaluation(async () => {
          for (const event of fresh) await this.reactive(event);
        }, interested === "stateful");
      }
      for (const event of fresh) this.seen.add(event.id);
    });
  }

  /** Whether the engine has evaluated the event with this id (among the last 10,000). */
  hasSeen(eventId: string): boolean {
    return this.seen.has(eventId);
  }

  /** Proactive evaluation of every proactive trigger that is due, and the sweep of old windows. */
  evaluateProactive(): Promise<void> {
    return this.serially(async () => {
      await this.refresh(true);
      const now = this.options.clock.now();
      for (const [key, loaded] of this.triggers) {
        if (loaded.trigger.posture !== "Proactive") continue;
        const due = this.nextProactiveRuns.get(key) ?? now.getTime();
        if (due > now.getTime()) continue;
        try {
          // One transaction per trigger: a failing trigger does not undo the others. The next
          // run is scheduled only once it committed: a pass whose commit failed is retried at
          // the next loop, not once the window it did not take would have closed.
          let next: Date | undefined;
          await this.evaluation(async () => {
            next = await this.proactive(loaded, now);
          });
          if (next) this.nextProactiveRuns.set(key, next.getTime());
        } catch (error) {
          this.options.logger.error({ err: error, automation: loaded.automation.id, trigger: loaded.trigger.id }, "proactive evaluation failed");
        }
      }
      await this.resolveQuietReactive(now);
      await sweepClosedBuckets(this.options.db.kysely, new Date(now.getTime() - EXPIRED_BUCKET_BUFFER_MS));
    });
  }

  /** Reactive triggers whose window after their last firing has passed without another: they resolve. */
  private async resolveQuietReactive(now: Date): Promise<void> {
    for (const state of await readTriggeredDue<Firing>(this.options.db.kysely, now)) {
      const loaded = this.triggers.get(`${state.automationId}:${state.triggerId}`);
      if (!loaded) continue;
      try {
        // Read outside the transaction: it resolves only if the state is still the one read,
        // still due (another server may have resolved it, and it may have fired again since).
        await this.evaluation(() => this.resolveEvent(loaded, state.bucketingKey, null, { triggeredAt: state.triggeredAt, dueBy: now }));
      } catch (error) {
        this.options.logger.error({ err: error, automation: state.automationId, trigger: state.triggerId }, "resolving a trigger failed");
      }
    }
  }

  /** Waits for evaluations queued so far. */
  async idle(): Promise<void> {
    await this.queue.catch(() => undefined);
  }

  private serially<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async refresh(force = false): Promise<void> {
    const now = Date.now();
    if (!this.dirty && !force && now - this.lastVersionCheck < RELOAD_CHECK_MS) return;
    this.lastVersionCheck = now;
    const version = await automationsVersion(this.options.db.kysely);
    if (!this.dirty && version === this.loadedVersion) return;
    this.dirty = false;
    this.load(await readAllAutomations(this.options.db.kysely), version);
  }

  private load(automations: readonly Automation[], version: string): void {
    const triggers = new Map<string, LoadedTrigger>();
    const composites = new Map<string, { automation: Automation; trigger: CompositeTrigger; parent: CompositeTrigger | null }>();
    const walk = (automation: Automation, trigger: Trigger, parent: CompositeTrigger | null): void => {
      const key = `${automation.id}:${trigger.id}`;
      if (trigger.type === "event") {
        const previous = this.triggers.get(key);
        // An unchanged trigger keeps its proactive schedule; a changed one is evaluated afresh.
        if (!previous || JSON.stringify(previous.trigger) !== JSON.stringify(trigger)) this.nextProactiveRuns.delete(key);
        triggers.set(key, { automation, trigger, matcher: new TriggerMatcher(trigger), parent });
        return;
      }
      composites.set(key, { automation, trigger, parent });
      for (const child of trigger.triggers) walk(automation, child, trigger);
    };
    for (const automation of automations) {
      if (automation.enabled) walk(automation, automation.trigger, null);
    }
    for (const key of this.nextProactiveRuns.keys()) if (!triggers.has(key)) this.nextProactiveRuns.delete(key);
    this.triggers = triggers;
    this.composites = composites;
    this.loadedVersion = version;
    this.options.logger.debug({ automations: automations.length, triggers: triggers.size }, "automations loaded");
  }

  /** Whether any trigger covers these events, and whether one of them keeps state (then a transaction is opened). */
  private interest(events: readonly ReceivedEvent[]): "none" | "stateless" | "stateful" {
    let result: "none" | "stateless" | "stateful" = "none";
    for (const event of events) {
      for (const loaded of this.triggers.values()) {
        if (!loaded.matcher.covers(event)) continue;
        if (!stateless(loaded)) return "stateful";
        result = "stateless";
      }
    }
    return result;
  }

  private async reactive(event: ReceivedEvent): Promise<void> {
    const db = this.ex;
    for (const loaded of this.triggers.values()) {
      const { trigger, matcher, automation } = loaded;
      if (!matcher.covers(event)) continue;
      if (stateless(loaded)) {
        // Every expected event fires it at once: the window Prefect's algorithm would open is
        // closed in the same evaluation, so nothing is stored (and nothing needs to survive).
        if (matcher.expects(event.event)) await this.fireImmediately(loaded, event);
        continue;
      }
      const ref: BucketRef = { automationId: automation.id, triggerId: trigger.id, bucketingKey: matcher.bucketingKey(event) };
      const occurred = new Date(event.occurred);
      const within = seconds(trigger.within);
      let bucket: Bucket | undefined;
      if (trigger.after.length > 0 && matcher.startsAfter(event.event)) {
        // An event both in `after` and `expect` opens the window and is counted by it: the
        // window starts at -1 so that this first event leaves it at 0 (Prefect's rule).
        const initial = matcher.expects(event.event) ? -1 : 0;
        bucket = await ensureBucket(db, this.options.clock.now(), ref, occurred, new Date(occurred.getTime() + within), event, initial);
      }
      if (!bucket && trigger.after.length === 0 && matcher.expects(event.event)) {
        bucket = await ensureBucket(db, this.options.clock.now(), ref, new Date(occurred.getTime() - PRECEDING_EVENT_LOOKBACK_MS), new Date(occurred.getTime() + within), event);
      }
      if (!matcher.expects(event.event)) continue;
      bucket ??= await readBucket(db, ref);
      const open = bucket ? await this.evaluate(loaded, bucket, occurred, event) : null;
      // The expected event is back: a Proactive trigger that fired resolves once its window has
      // enough of them (with `after` no window is open after a firing, so this one is enough).
      if (trigger.posture === "Proactive" && (trigger.after.length > 0 || (open !== null && open.count >= trigger.threshold))) {
        await this.resolveEvent(loaded, ref.bucketingKey, event);
      }
    }
  }

  private async proactive(loaded: LoadedTrigger, asOf: Date): Promise<Date> {
    const db = this.ex;
    const { automation, trigger } = loaded;
    const within = seconds(trigger.within);
    let runAgainAt = asOf.getTime() + within;
    if (trigger.for_each.length === 0) {
      await ensureBucket(db, this.options.clock.now(), { automationId: automation.id, triggerId: trigger.id, bucketingKey: [] }, asOf, new Date(asOf.getTime() + within), null);
    }
    await removeBucketsReaching(db, automation.id, trigger.id, trigger.threshold);
    for (const bucket of await readBucketsForTrigger(db, automation.id, trigger.id)) {
      const next = await this.evaluate(loaded, bucket, asOf, null);
      if (next && asOf.getTime() < next.end.getTime() && next.end.getTime() < runAgainAt) runAgainAt = next.end.getTime();
    }
    return new Date(runAgainAt);
  }

  /**
   * One evaluation of an event trigger's window (Prefect's `evaluate`): counts the event in
   * the open window, fires when the count meets the threshold (at once for Reactive, once the
   * window has closed for Proactive), and opens the next window. Returns the bucket left open.
   */
  private async evaluate(loaded: LoadedTrigger, initial: Bucket, now: Date, event: ReceivedEvent | null): Promise<Bucket | null> {
    const db = this.ex;
    const { trigger } = loaded;
    let bucket = initial;
    let count = event ? 1 : 0;
    const immediate = trigger.posture === "Reactive" && trigger.within === 0;

    // A late event for a window already closed or already fired: it changes nothing.
    if (now < bucket.start) return bucket;

    if (count > 0 && (immediate || (bucket.start <= now && now < bucket.end))) {
      bucket = await incrementBucket(db, this.options.clock.now(), bucket, count, event);
      count = 0;
    }

    const readyToFire = trigger.posture === "Reactive" || bucket.end <= now;
    const meetsThreshold = trigger.posture === "Reactive" ? bucket.count >= trigger.threshold : bucket.count < trigger.threshold;

    if (readyToFire && meetsThreshold) {
      const firing = newFiring(trigger, this.options.clock.now(), {
        triggering_labels: labelsOf(trigger, bucket.bucketingKey),
        triggering_event: event ?? bucket.lastEvent,
      });
      this.options.logger.info(
        { automation: loaded.automation.id, trigger: trigger.id, count: bucket.count, key: bucket.bucketingKey },
        `automation ${loaded.automation.name} triggered ${event ? "reactively" : "proactively"}`,
      );
      // The window goes before acting, so a crash right after cannot act twice for it; and
      // only the evaluation that takes it fires (another server may have read it too).
      if (!(await takeBucket(db, bucket))) return null;
      if (resolvable(trigger)) {
        // A Reactive trigger resolves if the window after this one passes without it firing
        // again (with `after`, windows open only on `after` events: a window's length from now).
        const nextWindowStart = trigger.after.length > 0 ? now.getTime() : Math.max(bucket.end.getTime(), now.getTime());
        const resolveAt = trigger.posture === "Reactive" ? new Date(nextWindowStart + seconds(trigger.within)) : null;
        await this.enterTriggered(loaded, bucket.bucketingKey, firing, now, resolveAt);
      }
      await this.fire(loaded.automation, loaded.parent, firing);
    } else if (now < bucket.end) {
      return bucket;
    }

    // The window closed or fired: open the next one, unless only an `after` event opens windows.
    if (trigger.after.length > 0) {
      await removeBucket(db, bucket);
      return null;
    }
    if (trigger.within === 0) return null;
    const start = new Date(Math.max(bucket.end.getTime(), now.getTime()));
    const end = new Date(start.getTime() + seconds(trigger.within));
    if (trigger.posture === "Reactive" && count > 0) {
      // The event belongs to the next window: open it and evaluate the event again there.
      const next = await startNewBucket(db, this.options.clock.now(), bucket, start, end, 0);
      return this.evaluate(loaded, next, now, event);
    }
    return startNewBucket(db, this.options.clock.now(), bucket, start, end, count);
  }

  /**
   * Records that an event trigger fired for `key`. If it was already Triggered and its
   * resolution fell due before this firing (the periodic pass had not come round yet), it
   * resolves first, so the quiet window in between is not lost.
   */
  private async enterTriggered(loaded: LoadedTrigger, key: readonly string[], firing: Firing, now: Date, resolveAt: Date | null): Promise<void> {
    const ref: BucketRef = { automationId: loaded.automation.id, triggerId: loaded.trigger.id, bucketingKey: key };
    const previous = await readTriggered<Firing>(this.ex, ref);
    if (previous?.resolveAt && previous.resolveAt <= now) await this.resolveEvent(loaded, key, null, { triggeredAt: previous.triggeredAt, dueBy: now });
    await markTriggered(this.ex, this.options.clock.now(), ref, new Date(firing.triggered), resolveAt, firing);
  }

  /** An event trigger's condition cleared for `key`: if it was Triggered, it resolves (once), and so may the composite above it. */
  private async resolveEvent(loaded: LoadedTrigger, key: readonly string[], event: ReceivedEvent | null, expected: TriggeredExpectation = {}): Promise<void> {
    const { automation, trigger, parent } = loaded;
    if (!(await clearTriggered(this.ex, { automationId: automation.id, triggerId: trigger.id, bucketingKey: key }, expected))) return;
    const firing = newFiring(trigger, this.options.clock.now(), { trigger_states: ["Resolved"], triggering_labels: labelsOf(trigger, key), triggering_event: event });
    this.options.logger.info({ automation: automation.id, trigger: trigger.id, key }, `automation ${automation.name} resolved`);
    await this.resolved(automation, parent, firing);
  }

  private async resolved(automation: Automation, parent: CompositeTrigger | null, firing: Firing): Promise<void> {
    if (parent) await this.resolveComposite(automation, parent, firing);
    else this.decide(automation, firing);
  }

  /** A child of a Triggered composite resolved: the composite resolves when too few of its children are still Triggered. */
  private async resolveComposite(automation: Automation, parent: CompositeTrigger, child: Firing): Promise<void> {
    const db = this.ex;
    const ref: BucketRef = { automationId: automation.id, triggerId: parent.id, bucketingKey: [] };
    if (!(await readTriggered(db, ref))) return;
    const stillTriggered = await readTriggeredAmong(db, automation.id, parent.triggers.map((t) => t.id));
    if (stillTriggered.size >= expectedFirings(parent)) return;
    if (!(await clearTriggered(db, ref))) return;
    this.options.logger.info({ automation: automation.id, trigger: parent.id }, `automation ${automation.name} ${parent.type} trigger resolved`);
    const grandparent = this.composites.get(`${automation.id}:${parent.id}`)?.parent ?? null;
    const firing = newFiring(parent, this.options.clock.now(), { trigger_states: ["Resolved"], triggering_firings: [child], triggering_event: child.triggering_event });
    await this.resolved(automation, grandparent, firing);
  }

  /** A composite fires: it enters the Triggered state (when it can ever resolve), then fires upward. */
  private async fireComposite(automation: Automation, parent: CompositeTrigger, grandparent: CompositeTrigger | null, firing: Firing): Promise<void> {
    if (resolvable(parent)) await markTriggered(this.ex, this.options.clock.now(), { automationId: automation.id, triggerId: parent.id, bucketingKey: [] }, new Date(firing.triggered), null, firing);
    await this.fire(automation, grandparent, firing);
  }

  private async fireImmediately(loaded: LoadedTrigger, event: ReceivedEvent): Promise<void> {
    const { trigger } = loaded;
    const firing = newFiring(trigger, this.options.clock.now(), {
      triggering_labels: labelsOf(trigger, loaded.matcher.bucketingKey(event)),
      triggering_event: event,
    });
    this.options.logger.info({ automation: loaded.automation.id, trigger: trigger.id }, `automation ${loaded.automation.name} triggered reactively`);
    await this.fire(loaded.automation, loaded.parent, firing);
  }

  private async fire(automation: Automation, parent: CompositeTrigger | null, firing: Firing): Promise<void> {
    if (parent) await this.evaluateComposite(automation, parent, firing);
    else this.decide(automation, firing);
  }

  /** A child of a compound or sequence trigger fired: record it, and fire the parent once enough children have. */
  private async evaluateComposite(automation: Automation, parent: CompositeTrigger, firing: Firing): Promise<void> {
    const db = this.ex;
    const grandparent = this.composites.get(`${automation.id}:${parent.id}`)?.parent ?? null;
    const expected = expectedFirings(parent);
    const firedAt = new Date(firing.triggered);
    if (expected === 1 && parent.type === "compound") {
      await this.fireComposite(automation, parent, grandparent, newFiring(parent, this.options.clock.now(), { triggering_firings: [firing], triggering_event: firing.triggering_event }));
      return;
    }
    if (parent.within !== null) await clearOldChildFirings(db, automation.id, parent.id, new Date(firedAt.getTime() - seconds(parent.within)));
    await upsertChildFiring(db, this.options.clock.now(), automation.id, parent.id, firing.trigger_id, firing.id, firedAt, firing);
    const rows = await readChildFirings<Firing>(db, automation.id, parent.id);
    if (!rows.some((row) => row.firingId === firing.id)) return;
    const firings = rows.map((row) => row.firing);
    const ready =
      parent.type === "sequence"
        ? rows.map((row) => row.childTriggerId).join(",") === parent.triggers.map((t) => t.id).join(",")
        : rows.length >= expected;
    if (!ready) return;
    await clearChildFirings(db, automation.id, parent.id, rows.map((row) => row.firingId));
    this.options.logger.info({ automation: automation.id, trigger: parent.id, firings: firings.length }, `automation ${automation.name} ${parent.type} trigger fired`);
    await this.fireComposite(automation, parent, grandparent, newFiring(parent, this.options.clock.now(), { triggering_firings: firings, triggering_event: firing.triggering_event }));
  }
}
