import { z } from "zod";
import { Id, Int32 } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";
import { MAX_FILTER_LIMIT, MAX_FILTER_VALUES } from "./filters.js";

/**
 * Concurrency limits, as Prefect's two kinds:
 *
 * - **global** (v2, `/v2/concurrency_limits`): a named pool of `limit` slots that any code takes
 *   and gives back (`concurrency()` in the SDK), optionally leaking `slot_decay_per_second`
 *   slots per second so that it works as a rate limit (`rateLimit()`);
 * - **tag-based** (v1, `/concurrency_limits`): at most `concurrency_limit` task runs carrying a
 *   tag are RUNNING at once; the others wait (the orchestration rule answers WAIT).
 */

/** Longest limit name accepted (Prefect sets none; a bound keeps requests small). */
export const MAX_CONCURRENCY_LIMIT_NAME_LENGTH = 500;
/** Slot decay beyond this is not a rate anyone can mean (and keeps the arithmetic finite). */
export const MAX_SLOT_DECAY_PER_SECOND = 1_000_000;
/** Lease durations the contract allows, in seconds. */
export const MIN_LEASE_SECONDS = 60;
export const MAX_LEASE_SECONDS = 86_400;
export const DEFAULT_LEASE_SECONDS = 300;

const LimitName = lazySchema(() =>
  z
    .string()
    .min(1, "must not be empty")
    .max(MAX_CONCURRENCY_LIMIT_NAME_LENGTH, `must be at most ${MAX_CONCURRENCY_LIMIT_NAME_LENGTH} characters`)
    .refine((s) => !/[/%&><]/.test(s), { message: "must not contain /, %, &, > or <" }));
const SlotCount = lazySchema(() => Int32.min(0, "must not be negative"));
const Decay = lazySchema(() => z.number().min(0, "must not be negative").max(MAX_SLOT_DECAY_PER_SECOND));

export const ConcurrencyLimitV2 = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    active: z.boolean(),
    name: z.string(),
    limit: z.number().int(),
    active_slots: z.number().int(),
    denied_slots: z.number().int(),
    slot_decay_per_second: z.number(),
    avg_slot_occupancy_seconds: z.number(),
  }));
export type ConcurrencyLimitV2 = z.infer<typeof ConcurrencyLimitV2>;

export const ConcurrencyLimitV2Create = lazySchema(() =>
  z.strictObject({
    active: z.boolean().default(true),
    name: LimitName,
    limit: SlotCount,
    active_slots: SlotCount.default(0),
    denied_slots: SlotCount.default(0),
    slot_decay_per_second: Decay.default(0),
  }));
export type ConcurrencyLimitV2Create = z.infer<typeof ConcurrencyLimitV2Create>;

export const ConcurrencyLimitV2Update = lazySchema(() =>
  z.strictObject({
    active: z.boolean().nullish(),
    name: LimitName.nullish(),
    limit: SlotCount.nullish(),
    active_slots: SlotCount.nullish(),
    denied_slots: SlotCount.nullish(),
    slot_decay_per_second: Decay.nullish(),
  }));
export type ConcurrencyLimitV2Update = z.infer<typeof ConcurrencyLimitV2Update>;

export const ConcurrencyLimitPageBody = lazySchema(() =>
  z.strictObject({
    offset: Int32.min(0).default(0),
    limit: z.number().int().min(0).max(MAX_FILTER_LIMIT).nullish(),
  }));

const LimitNames = lazySchema(() => z.array(z.string().min(1).max(MAX_CONCURRENCY_LIMIT_NAME_LENGTH)).min(1, "must name at least one limit").max(MAX_FILTER_VALUES));
const SlotsRequested = lazySchema(() => Int32.min(1, "must be at least 1"));
const LeaseDuration = lazySchema(() =>
  z
    .number()
    .min(MIN_LEASE_SECONDS, `must be at least ${MIN_LEASE_SECONDS} seconds`)
    .max(MAX_LEASE_SECONDS, `must be at most ${MAX_LEASE_SECONDS} seconds`)
    .default(DEFAULT_LEASE_SECONDS));

export const AcquireMode = lazySchema(() => z.enum(["concurrency", "rate_limit"]));
export type AcquireMode = z.infer<typeof AcquireMode>;

export const IncrementSlotsBody = lazySchema(() =>
  z.strictObject({
    slots: SlotsRequested,
    names: LimitNames,
    mode: AcquireMode.default("concurrency"),
    create_if_missing: z.boolean().nullish(),
  }));

export const ConcurrencyLeaseHolder = lazySchema(() =>
  z.strictObject({
    type: z.enum(["flow_run", "task_run", "deployment"]),
    id: Id,
  }));
export type ConcurrencyLeaseHolder = z.infer<typeof ConcurrencyLeaseHolder>;

export const IncrementSlotsWithLeaseBody = lazySchema(() =>
  z.strictObject({
    slots: SlotsRequested,
    names: LimitNames,
    mode: AcquireMode.default("concurrency"),
    lease_duration: LeaseDuration,
    holder: ConcurrencyLeaseHolder.nullish(),
  }));

export const DecrementSlotsBody = lazySchema(() =>
  z.strictObject({
    slots: SlotsRequested,
    names: LimitNames,
    occupancy_seconds: z.number().positive().max(10 * 365 * 86_400).nullish(),
    create_if_missing: z.boolean().nullish(),
  }));

export const DecrementWithLeaseBody = lazySchema(() => z.strictObject({ lease_id: Id }));
export const RenewLeaseBody = lazySchema(() => z.strictObject({ lease_duration: LeaseDuration }));

/** What acquiring and releasing answer: the limits the call touched. */
export const MinimalConcurrencyLimit = lazySchema(() => z.object({ id: Id, name: z.string(), limit: z.number().int() }));
export type MinimalConcurrencyLimit = z.infer<typeof MinimalConcurrencyLimit>;

export const ConcurrencyLimitWithLease = lazySchema(() => z.object({ lease_id: Id, limits: z.array(MinimalConcurrencyLimit) }));
export type ConcurrencyLimitWithLease = z.infer<typeof ConcurrencyLimitWithLease>;

// ---- tag-based limits (v1) ----

const Tag = lazySchema(() => z.string().min(1, "must not be empty").max(500));

export const TagConcurrencyLimit = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    tag: z.string(),
    concurrency_limit: z.number().int(),
    active_slots: z.array(Id),
  }));
export type TagConcurrencyLimit = z.infer<typeof TagConcurrencyLimit>;

export const TagConcurrencyLimitCreate = lazySchema(() => z.strictObject({ tag: Tag, concurrency_limit: SlotCount }));
export type TagConcurrencyLimitCreate = z.infer<typeof TagConcurrencyLimitCreate>;

export const TagSlotsBody = lazySchema(() => z.strictObject({ names: z.array(Tag).max(MAX_FILTER_VALUES), task_run_id: Id }));
export const ResetTagSlotsBody = lazySchema(() => z.strictObject({ slot_override: z.array(Id).max(10_000).nullish() }));
