import {
  ConcurrencyLimitPageBody,
  ConcurrencyLimitV2,
  ConcurrencyLimitV2Create,
  ConcurrencyLimitV2Update,
  ConcurrencyLimitWithLease,
  DecrementSlotsBody,
  DecrementWithLeaseBody,
  Id,
  IncrementSlotsBody,
  IncrementSlotsWithLeaseBody,
  MinimalConcurrencyLimit,
  RenewLeaseBody,
  SlotsUnavailableError,
} from "@baton/core";
import { z } from "zod";
import {
  acquireSlots,
  createGlobalLimit,
  deleteGlobalLimit,
  filterGlobalLimits,
  readGlobalLimit,
  releaseLease,
  releaseSlots,
  renewLease,
  updateGlobalLimit,
  type AcquireOutcome,
} from "../db/queries/global-concurrency-limits.js";
import type { ApiContext } from "./context.js";

const IdOrNameParams = z.object({ id_or_name: z.string().min(1).max(1000) });
const LeaseParams = z.object({ lease_id: Id });

/** A refused acquisition is a 423 with the `Retry-After` the caller should honour. */
function grantedOrLocked(outcome: AcquireOutcome): Extract<AcquireOutcome, { acquired: true }> {
  if (outcome.acquired) return outcome;
  throw new SlotsUnavailableError(`No slots available on concurrency limit(s) ${outcome.blocking.map((n) => `'${n}'`).join(", ")}`, outcome.retryAfterSeconds);
}

/**
 * `/api/v2/concurrency_limits/...`: global concurrency and rate limits. Slots are taken and
 * given back by name; a taker that may die takes them under a lease it renews, and the
 * lease-expiry service gives back the slots of leases left to expire.
 */
export function registerGlobalConcurrencyLimitRoutes({ router, db }: ApiContext): void {
  const tag = "Concurrency Limits V2";
  router.route({
    method: "POST",
    path: "/v2/concurrency_limits/",
    tag,
    summary: "Create a global concurrency limit; a name already taken is a 409",
    body: ConcurrencyLimitV2Create,
    response: ConcurrencyLimitV2,
    status: 201,
    handler: ({ body }) => createGlobalLimit(db.kysely, body),
  });
  router.route({
    method: "GET",
    path: "/v2/concurrency_limits/{id_or_name}",
    tag,
    summary: "Read a global concurrency limit by id or name, with its slots in use now",
    params: IdOrNameParams,
    response: ConcurrencyLimitV2,
    handler: ({ params }) => readGlobalLimit(db.kysely, params.id_or_name),
  });
  router.route({
    method: "PATCH",
    path: "/v2/concurrency_limits/{id_or_name}",
    tag,
    summary: "Update a global concurrency limit",
    params: IdOrNameParams,
    body: ConcurrencyLimitV2Update,
    status: 204,
    handler: ({ params, body }) => updateGlobalLimit(db, params.id_or_name, body),
  });
  router.route({
    method: "DELETE",
    path: "/v2/concurrency_limits/{id_or_name}",
    tag,
    summary: "Delete a global concurrency limit",
    params: IdOrNameParams,
    status: 204,
    handler: ({ params }) => deleteGlobalLimit(db.kysely, params.id_or_name),
  });
  router.route({
    method: "POST",
    path: "/v2/concurrency_limits/filter",
    tag,
    summary: "List global concurrency limits by name",
    body: ConcurrencyLimitPageBody,
    response: z.array(ConcurrencyLimitV2),
    handler: ({ body }) => filterGlobalLimits(db.kysely, body),
  });
  router.route({
    method: "POST",
    path: "/v2/concurrency_limits/increment",
    tag,
    admitAtOnce: true,
    summary: "Take slots of every active limit named, all or none; 423 with Retry-After when they are not free",
    body: IncrementSlotsBody,
    response: z.array(MinimalConcurrencyLimit),
    handler: async ({ body }) => grantedOrLocked(await acquireSlots(db, { names: body.names, slots: body.slots, mode: body.mode })).limits,
  });
  router.route({
    method: "POST",
    path: "/v2/concurrency_limits/increment-with-lease",
    tag,
    admitAtOnce: true,
    summary: "Take slots under a lease that gives them back if it is not renewed before it expires",
    body: IncrementSlotsWithLeaseBody,
    response: ConcurrencyLimitWithLease,
    handler: async ({ body }) => {
      const granted = grantedOrLocked(
        await acquireSlots(db, { names: body.names, slots: body.slots, mode: body.mode, lease: { durationSeconds: body.lease_duration, holder: body.holder } }),
      );
      return { lease_id: granted.leaseId!, limits: granted.limits };
    },
  });
  router.route({
    method: "POST",
    path: "/v2/concurrency_limits/decrement",
    tag,
    admitAtOnce: true,
    summary: "Give back slots taken without a lease",
    body: DecrementSlotsBody,
    response: z.array(MinimalConcurrencyLimit),
    handler: ({ body }) => releaseSlots(db, { names: body.names, slots: body.slots, occupancySeconds: body.occupancy_seconds }),
  });
  router.route({
    method: "POST",
    path: "/v2/concurrency_limits/decrement-with-lease",
    tag,
    admitAtOnce: true,
    summary: "End a lease and give back its slots (an expired or unknown lease is a no-op)",
    body: DecrementWithLeaseBody,
    status: 204,
    handler: async ({ body }) => {
      await releaseLease(db, body.lease_id);
    },
  });
  router.route({
    method: "POST",
    path: "/v2/concurrency_limits/leases/{lease_id}/renew",
    tag,
    admitAtOnce: true,
    summary: "Extend a lease; a lease that expired and was reaped is a 410, and its holder must stop",
    params: LeaseParams,
    body: RenewLeaseBody,
    status: 204,
    handler: async ({ params, body, reply }) => {
      if (!(await renewLease(db.reserved, params.lease_id, body.lease_duration))) {
        reply.code(410);
        return { detail: "Lease not found: it expired and its slots were given back" };
      }
    },
  });
}

