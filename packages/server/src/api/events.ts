import { Countable, Event, EventCount, EventCountBody, EventFilter, EventFilterBody, EventPage, InvalidInputError, MAX_EVENT_BATCH } from "@baton/core";
import type { FastifyRequest } from "fastify";
import { z } from "zod";
import { countEvents, filterEvents } from "../db/queries/events.js";
import { receiveEvents } from "../events/receive.js";
import { parseCommonEvents } from "../validation/hot-bodies.js";
import type { ApiContext } from "./context.js";

/**
 * Where a page after the first resumes: the query itself plus an offset, carried in the
 * `page-token` so that the server keeps no state between pages.
 */
const PageToken = EventFilterBody.extend({ offset: z.number().int().min(0) });
type PageToken = z.infer<typeof PageToken>;

export function registerEventRoutes({ router, db, events }: ApiContext): void {
  router.route({
    method: "POST",
    path: "/events",
    tag: "Events",
    summary: `Record a batch of events (at most ${MAX_EVENT_BATCH}); flow-run heartbeats among them keep their runs from being declared crashed`,
    body: z.array(Event).max(MAX_EVENT_BATCH),
    fastBody: parseCommonEvents,
    status: 204,
    handler: async ({ body }) => {
      await receiveEvents(db, events, body);
    },
  });
  router.route({
    method: "POST",
    path: "/events/filter",
    tag: "Events",
    summary: "Read the first page of events matching a filter, newest first unless `order` says otherwise",
    body: EventFilterBody,
    response: EventPage,
    handler: ({ body, request }) => {
      const filter = pinUntil(body.filter ?? undefined, new Date().toISOString());
      return readPage(db, request, { ...body, filter, offset: 0 });
    },
  });
  router.route({
    method: "POST",
    path: "/events/count-by/{countable}",
    tag: "Events",
    summary: "Count the events matching a filter by day, time span, event name or resource",
    params: z.object({ countable: Countable }),
    body: EventCountBody,
    response: z.array(EventCount),
    handler: ({ params, body }) =>
      countEvents(db, pinUntil(body.filter, new Date().toISOString()), params.countable, body.time_unit, body.time_interval),
  });
  router.route({
    method: "GET",
    path: "/events/filter/next",
    tag: "Events",
    summary: "Read the next page of a previous event query (the `next_page` URL of the page before)",
    query: z.object({ "page-token": z.string().min(1) }),
    response: EventPage,
    handler: ({ query, request }) => readPage(db, request, decodeToken(query["page-token"])),
  });
}

async function readPage(db: ApiContext["db"], request: FastifyRequest, query: PageToken): Promise<EventPage> {
  const { events, total } = await filterEvents(db, query.filter, { limit: query.limit, offset: query.offset });
  const nextOffset = query.offset + events.length;
  const more = query.limit > 0 && events.length > 0 && nextOffset < total;
  return { events, total, next_page: more ? nextPageUrl(request, { ...query, offset: nextOffset }) : null };
}

/**
 * Later pages see the events as of the first one: without an upper bound, events arriving
 * meanwhile would shift the offsets (the contract's own default for `until` is "now" too).
 */
function pinUntil(filter: EventFilter | undefined, now: string): EventFilter {
  const base = filter ?? EventFilter.parse({});
  return { ...base, occurred: { ...base.occurred, until: base.occurred?.until ?? now } };
}

function nextPageUrl(request: FastifyRequest, token: PageToken): string {
  const path = (request.url.split("?")[0] ?? "").replace(/\/filter(\/next)?\/?$/, "/filter/next");
  const encoded = Buffer.from(JSON.stringify(token), "utf8").toString("base64url");
  return `${request.protocol}://${request.host}${path}?page-token=${encoded}`;
}

function decodeToken(token: string): PageToken {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    throw new InvalidInputError("page-token", "is not a page token this server issued");
  }
  const parsed = PageToken.safeParse(decoded);
  if (!parsed.success) throw new InvalidInputError("page-token", "is not a page token this server issued");
  return parsed.data;
}
