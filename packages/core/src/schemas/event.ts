import { z } from "zod";
import { DateTime, Id, JsonObject } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";

/**
 * Events as Prefect's clients send them (`POST /events`) and read them back
 * (`POST /events/filter`). A resource is a flat map of string labels; its
 * `prefect.resource.id` label says what the event is about (`prefect.flow-run.<uuid>`).
 */
export const RESOURCE_ID_LABEL = "prefect.resource.id";
export const RESOURCE_ROLE_LABEL = "prefect.resource.role";
/** The event a running flow run's process sends to say it is alive. */
export const FLOW_RUN_HEARTBEAT_EVENT = "prefect.flow-run.heartbeat";

/** As Prefect's server settings: more labels or related resources than this are refused. */
export const MAX_RESOURCE_LABELS = 500;
export const MAX_RELATED_RESOURCES = 500;
/** Most events one `POST /events` takes; clients send more in several requests. */
export const MAX_EVENT_BATCH = 10_000;

const Labels = lazySchema(() => z.record(z.string().max(1024), z.string().max(10_000)));

function resourceWith(...required: string[]) {
  return Labels.superRefine((labels, ctx) => {
    if (Object.keys(labels).length > MAX_RESOURCE_LABELS) ctx.addIssue({ code: "custom", message: `at most ${MAX_RESOURCE_LABELS} labels per resource` });
    for (const label of required) {
      if (!labels[label]) ctx.addIssue({ code: "custom", message: `a resource must have a non-empty "${label}" label`, path: [label] });
    }
  });
}

export const Resource = lazySchema(() => resourceWith(RESOURCE_ID_LABEL));
export type Resource = z.infer<typeof Resource>;

/** A related resource also says what part it plays (`prefect.resource.role`: flow, deployment...). */
export const RelatedResource = lazySchema(() => resourceWith(RESOURCE_ID_LABEL, RESOURCE_ROLE_LABEL));
export type RelatedResource = z.infer<typeof RelatedResource>;

/** An event as a client sends it. `id` is the client's; sending the same id again records it once. */
export const Event = lazySchema(() =>
  z.object({
    occurred: DateTime,
    event: z.string().min(1, "must not be empty").max(1024),
    resource: Resource,
    related: z.array(RelatedResource).max(MAX_RELATED_RESOURCES).default([]),
    payload: JsonObject.default({}),
    id: Id,
    follows: Id.nullish(),
  }));
export type Event = z.infer<typeof Event>;
export type EventCreate = z.input<typeof Event>;

/** An event as the server stored it, with when it arrived. */
export const ReceivedEvent = lazySchema(() =>
  z.object({
    occurred: z.string(),
    event: z.string(),
    resource: z.record(z.string(), z.string()),
    related: z.array(z.record(z.string(), z.string())),
    payload: JsonObject,
    id: Id,
    follows: Id.nullable(),
    received: z.string(),
  }));
export type ReceivedEvent = z.infer<typeof ReceivedEvent>;

/** Most `related` / `any_resource` criteria one filter holds, and most values across all its lists. */
export const MAX_EVENT_FILTER_CRITERIA = 50;
export const MAX_EVENT_FILTER_VALUES = 5000;

const strings = lazySchema(() => z.array(z.string()).max(1000).nullish());
/** Criteria of the contract that this server does not evaluate: refused by name rather than ignored. */
const notSupported = lazySchema(() =>
  z
    .unknown()
    .refine((v) => v == null, { message: "is not supported by Baton's event store; filter by occurred, event, resource, related, any_resource or id" })
    .optional());

/**
 * Labels a resource must carry, as Prefect's `ResourceSpecification`: each label maps to a
 * value or a list of values; a value ending in `*` is a prefix, one starting with `!` excludes.
 * Event filters and automation triggers share it.
 */
export const ResourceSpecification = lazySchema(() =>
  z.record(z.string(), z.union([z.string(), z.array(z.string())], { error: "must be a string or a list of strings" })));
export type ResourceSpecification = z.infer<typeof ResourceSpecification>;

/**
 * One criterion or a list of them, all of which must hold (Prefect's `related` and
 * `any_resource`). A refusal names the field inside the criterion rather than "invalid input".
 */
function oneOrList<T extends z.ZodType>(item: T) {
  return z.union([item, z.array(item).max(MAX_EVENT_FILTER_CRITERIA)], {
    error: (issue) => {
      if (issue.code !== "invalid_union") return undefined;
      const inner = issue.errors[Array.isArray(issue.input) ? 1 : 0]?.[0];
      if (!inner) return undefined;
      return inner.path.length > 0 ? `${inner.path.join(".")}: ${inner.message}` : inner.message;
    },
  });
}

export const EventResourceFilter = lazySchema(() =>
  z.strictObject({
    id: strings,
    id_prefix: strings,
    labels: ResourceSpecification.nullish(),
    distinct: z
      .boolean()
      .default(false)
      .refine((v) => !v, { message: "is not supported by Baton's event store" }),
  }));
export type EventResourceFilter = z.infer<typeof EventResourceFilter>;

/** A related resource (by id, role, id-and-role pairs, labels) that the event must have, one resource meeting them all. */
export const EventRelatedFilter = lazySchema(() =>
  z.strictObject({
    id: strings,
    role: strings,
    resources_in_roles: z.array(z.tuple([z.string(), z.string()])).max(1000).nullish(),
    labels: ResourceSpecification.nullish(),
  }));
export type EventRelatedFilter = z.infer<typeof EventRelatedFilter>;

/** A resource, the event's own or a related one, meeting all of these. */
export const EventAnyResourceFilter = lazySchema(() =>
  z.strictObject({
    id: strings,
    id_prefix: strings,
    labels: ResourceSpecification.nullish(),
  }));
export type EventAnyResourceFilter = z.infer<typeof EventAnyResourceFilter>;

/** How many values a filter's lists and label specifications hold in all (each one is a bound parameter). */
function filterValueCount(filter: { resource?: EventResourceFilter | null; related?: unknown; any_resource?: unknown }): number {
  const spec = (labels: ResourceSpecification | null | undefined) =>
    Object.values(labels ?? {}).reduce((n, v) => n + 1 + (Array.isArray(v) ? v.length : 1), 0);
  const list = (v: readonly unknown[] | null | undefined) => v?.length ?? 0;
  const many = <T>(v: unknown): T[] => (v == null ? [] : Array.isArray(v) ? (v as T[]) : [v as T]);
  let n = list(filter.resource?.id) + list(filter.resource?.id_prefix) + spec(filter.resource?.labels);
  for (const r of many<EventRelatedFilter>(filter.related)) n += list(r.id) + list(r.role) + 2 * list(r.resources_in_roles) + spec(r.labels);
  for (const r of many<EventAnyResourceFilter>(filter.any_resource)) n += list(r.id) + list(r.id_prefix) + spec(r.labels);
  return n;
}

export const EventFilter = lazySchema(() =>
  z
    .strictObject({
      occurred: z.strictObject({ since: DateTime.optional(), until: DateTime.optional() }).optional(),
      event: z.strictObject({ prefix: strings, exclude_prefix: strings, name: strings, exclude_name: strings }).nullish(),
      resource: EventResourceFilter.nullish(),
      related: oneOrList(EventRelatedFilter).nullish(),
      any_resource: oneOrList(EventAnyResourceFilter).nullish(),
      id: z.strictObject({ id: z.array(Id).max(1000).nullish() }).optional(),
      text: notSupported,
      order: z.enum(["ASC", "DESC"]).default("DESC"),
    })
    .superRefine((filter, ctx) => {
      const n = filterValueCount(filter);
      if (n > MAX_EVENT_FILTER_VALUES) ctx.addIssue({ code: "custom", message: `holds ${n} values in its resource, related and any_resource criteria, more than ${MAX_EVENT_FILTER_VALUES}` });
    }));
export type EventFilter = z.infer<typeof EventFilter>;

/** Most events one page holds, as in the contract. */
export const MAX_EVENT_PAGE = 50;

export const EventFilterBody = lazySchema(() =>
  z.strictObject({
    filter: EventFilter.nullish(),
    limit: z.number().int().min(0).max(MAX_EVENT_PAGE).default(MAX_EVENT_PAGE),
  }));
export type EventFilterBody = z.infer<typeof EventFilterBody>;

export const EventPage = lazySchema(() =>
  z.object({
    events: z.array(ReceivedEvent),
    total: z.number().int(),
    next_page: z.string().nullable(),
  }));
export type EventPage = z.infer<typeof EventPage>;

/** What `POST /events/count-by/{countable}` groups by: the day or a time span, the event's name, its resource. */
export const Countable = lazySchema(() => z.enum(["day", "time", "event", "resource"]));
export type Countable = z.infer<typeof Countable>;
export const TimeUnit = lazySchema(() => z.enum(["week", "day", "hour", "minute", "second"]));
export type TimeUnit = z.infer<typeof TimeUnit>;

export const EventCountBody = lazySchema(() =>
  z.strictObject({
    filter: EventFilter,
    time_unit: TimeUnit.default("day"),
    time_interval: z.number().min(0.01).default(1),
  }));
export type EventCountBody = z.infer<typeof EventCountBody>;

export const EventCount = lazySchema(() =>
  z.object({
    value: z.string(),
    label: z.string(),
    count: z.number().int(),
    start_time: z.string(),
    end_time: z.string(),
  }));
export type EventCount = z.infer<typeof EventCount>;
