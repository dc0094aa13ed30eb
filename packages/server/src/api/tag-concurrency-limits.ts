import { ConcurrencyLimitPageBody, MinimalConcurrencyLimit, ResetTagSlotsBody, TagConcurrencyLimit, TagConcurrencyLimitCreate, TagSlotsBody } from "@baton/core";
import { z } from "zod";
import { deleteTagLimit, filterTagLimits, incrementTagSlots, readTagLimit, releaseTagSlots, resetTagLimit, upsertTagLimit } from "../db/queries/tag-concurrency-limits.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

const TagParams = z.object({ tag: z.string().min(1).max(500) });

/**
 * `/api/concurrency_limits/...`: tag-based task concurrency (Prefect's v1 limits). At most
 * `concurrency_limit` task runs with the tag are RUNNING at once: the orchestration rule
 * takes and gives back the slots as runs start and finish; `increment` / `decrement` let a
 * client do the same itself.
 */
export function registerTagConcurrencyLimitRoutes({ router, db }: ApiContext): void {
  const tag = "Concurrency Limits";
  router.route({
    method: "POST",
    path: "/concurrency_limits/",
    tag,
    summary: "Create the concurrency limit of a tag, or change it if the tag has one",
    body: TagConcurrencyLimitCreate,
    response: TagConcurrencyLimit,
    handler: ({ body }) => upsertTagLimit(db, body),
  });
  router.route({
    method: "GET",
    path: "/concurrency_limits/{id}",
    tag,
    summary: "Read a tag concurrency limit, with the task runs holding its slots",
    params: IdParams,
    response: TagConcurrencyLimit,
    handler: ({ params }) => readTagLimit(db.kysely, { id: params.id }),
  });
  router.route({
    method: "DELETE",
    path: "/concurrency_limits/{id}",
    tag,
    summary: "Delete a tag concurrency limit",
    params: IdParams,
    handler: async ({ params }) => {
      await deleteTagLimit(db.kysely, { id: params.id });
      return null;
    },
  });
  router.route({
    method: "GET",
    path: "/concurrency_limits/tag/{tag}",
    tag,
    summary: "Read the concurrency limit of a tag",
    params: TagParams,
    response: TagConcurrencyLimit,
    handler: ({ params }) => readTagLimit(db.kysely, { tag: params.tag }),
  });
  router.route({
    method: "DELETE",
    path: "/concurrency_limits/tag/{tag}",
    tag,
    summary: "Delete the concurrency limit of a tag",
    params: TagParams,
    handler: async ({ params }) => {
      await deleteTagLimit(db.kysely, { tag: params.tag });
      return null;
    },
  });
  router.route({
    method: "POST",
    path: "/concurrency_limits/filter",
    tag,
    summary: "List tag concurrency limits",
    body: ConcurrencyLimitPageBody,
    response: z.array(TagConcurrencyLimit),
    handler: ({ body }) => filterTagLimits(db.kysely, body),
  });
  router.route({
    method: "POST",
    path: "/concurrency_limits/tag/{tag}/reset",
    tag,
    summary: "Free every slot of a tag's limit, or set the slots to `slot_override`",
    params: TagParams,
    body: ResetTagSlotsBody,
    handler: async ({ params, body }) => {
      await resetTagLimit(db, params.tag, body.slot_override);
      return null;
    },
  });
  router.route({
    method: "POST",
    path: "/concurrency_limits/increment",
    tag,
    summary: "Take a slot of every limited tag for a task run, all or none; 423 when a tag is full",
    body: TagSlotsBody,
    response: z.array(MinimalConcurrencyLimit),
    handler: ({ body }) => incrementTagSlots(db, body.names, body.task_run_id),
  });
  router.route({
    method: "POST",
    path: "/concurrency_limits/decrement",
    tag,
    summary: "Give back a task run's slots of the named tags",
    body: TagSlotsBody,
    response: z.array(MinimalConcurrencyLimit),
    handler: ({ body }) => releaseTagSlots(db.kysely, body.task_run_id, body.names),
  });
}
