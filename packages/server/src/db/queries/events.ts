import {
  FLOW_RUN_HEARTBEAT_EVENT,
  InvalidInputError,
  RESOURCE_ID_LABEL,
  RESOURCE_ROLE_LABEL,
  type Countable,
  type Event,
  type EventAnyResourceFilter,
  type EventCount,
  type EventFilter,
  type EventRelatedFilter,
  type ReceivedEvent,
  type TimeUnit,
} from "@baton/core";
import { sql, type RawBuilder, type Selectable, type SqlBool } from "kysely";
import { specPatterns, type LabelPatterns } from "../../events/label-patterns.js";
import { anyResourceConstrains, listOf, relatedConstrains } from "../../events/matching.js";
import { insertRows } from "../bulk-insert.js";
import type { Database } from "../database.js";
import type { DialectName } from "../dialect.js";
import { fromJson } from "../json.js";
import type { EventTable } from "../schema.js";
import { LONE_SURROGATE } from "../../validation/unstorable-json.js";

/** Runs per heartbeat UPDATE: two bound parameters each stays under both databases' caps. */
const HEARTBEAT_CHUNK = 1000;

const FLOW_RUN_RESOURCE = /^prefect\.flow-run\.([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$/;

export function eventFromRow(row: Selectable<EventTable>): ReceivedEvent {
  return {
    id: row.id,
    occurred: row.occurred,
    received: row.received,
    event: row.event,
    resource: fromJson<Record<string, string>>(row.resource, {}),
    related: fromJson<Array<Record<string, string>>>(row.related, []),
    payload: fromJson<Record<string, unknown>>(row.payload, {}),
    follows: row.follows,
  };
}

/** Events per INSERT on SQLite: 9 columns x 1,000 stays under its bound-parameter cap. */
const SQLITE_EVENT_CHUNK = 1000;

const INSERT_EVENTS = {
  key: "events",
  table: "event",
  columns: ["id", "occurred", "received", "event", "resource_id", "resource", "related", "payload", "follows"],
  rest: "ON CONFLICT (id) DO NOTHING",
} as const;

/**
 * Stores a batch of events. An event whose id is already stored is skipped, so a batch
 * delivered twice, or a client resending after a lost response, duplicates nothing (Prefect
 * deduplicates by event id too). On PostgreSQL the batch travels as one JSON parameter that
 * the database unpacks (`jsonb_to_recordset`): one round trip, no bound-parameter limit. On
 * SQLite, multi-row INSERTs of bound values: unpacking one JSON text with `json_each` made
 * SQLite parse each event several times, twice as slow as binding the columns.
 */
export async function insertEvents(db: Database, events: readonly ReceivedEvent[]): Promise<void> {
  if (events.length === 0) return;
  if (db.dialect.name === "postgres") {
    const rows = events.map((event) => ({
      id: event.id,
      occurred: event.occurred,
      received: event.received,
      event: event.event,
      resource_id: event.resource[RESOURCE_ID_LABEL] ?? "",
      resource: event.resource,
      related: event.related ?? [],
      payload: event.payload ?? {},
      follows: event.follows ?? null,
    }));
    await sql`
      INSERT INTO event (id, occurred, received, event, resource_id, resource, related, payload, follows)
      SELECT r.id, r.occurred, r.received, r.event, r.resource_id, r.resource, r.related, r.payload, r.follows
      FROM jsonb_to_recordset(${JSON.stringify(rows)}::jsonb)
        AS r(id uuid, occurred timestamptz, received timestamptz, event text, resource_id text, resource jsonb, related jsonb, payload jsonb, follows uuid)
      ON CONFLICT (id) DO NOTHING
    `.execute(db.kysely);
    return;
  }
  const rows = events.map((event) => ({
    id: event.id,
    occurred: event.occurred,
    received: event.received,
    event: event.event,
    resource_id: event.resource[RESOURCE_ID_LABEL] ?? "",
    resource: JSON.stringify(event.resource),
    related: JSON.stringify(event.related ?? []),
    payload: JSON.stringify(event.payload ?? {}),
    follows: event.follows ?? null,
  }));
  await db.write(async (trx) => {
    for (let i = 0; i < rows.length; i += SQLITE_EVENT_CHUNK) await insertRows(trx, "sqlite", INSERT_EVENTS, rows.slice(i, i + SQLITE_EVENT_CHUNK));
  });
}

/**
 * Applies the flow-run heartbeats among `events` (`flow_run.last_heartbeat`). This happens as
 * events are received, not when they are persisted, so liveness never waits on the persister.
 */
export async function applyHeartbeats(db: Database, events: readonly Event[]): Promise<void> {
  const latest = latestHeartbeats(events);
  if (latest.size > 0) await recordHeartbeats(db, latest);
}

/** Each flow run's latest heartbeat in the batch: one value per run, so one UPDATE row per run. */
function latestHeartbeats(events: readonly Event[]): Map<string, string> {
  const latest = new Map<string, string>();
  for (const event of events) {
    if (event.event !== FLOW_RUN_HEARTBEAT_EVENT) continue;
    const match = FLOW_RUN_RESOURCE.exec(event.resource[RESOURCE_ID_LABEL] ?? "");
    if (!match) continue;
    const runId = match[1]!.toLowerCase();
    const seen = latest.get(runId);
    // Timestamps are normalised ISO strings, so text order is time order.
    if (seen === undefined || event.occurred > seen) latest.set(runId, event.occurred);
  }
  return latest;
}

/**
 * Moves `flow_run.last_heartbeat` forward, never back (heartbeats may arrive out of order),
 * in one statement per chunk of runs. Ids of runs that do not exist simply match nothing.
 */
async function recordHeartbeats(db: Database, latest: Map<string, string>): Promise<void> {
  const entries = [...latest];
  const postgres = db.dialect.name === "postgres";
  for (let i = 0; i < entries.length; i += HEARTBEAT_CHUNK) {
    const values = entries
      .slice(i, i + HEARTBEAT_CHUNK)
      // PostgreSQL types VALUES columns from their first row; the casts make them uuid and timestamptz.
      .map(([id, occurred]) => (postgres ? sql`(${id}::uuid, ${occurred}::timestamptz)` : sql`(${id}, ${occurred})`));
    await sql`
      WITH beat(id, occurred) AS (VALUES ${sql.join(values)})
      UPDATE flow_run SET last_heartbeat = beat.occurred
      FROM beat
      WHERE flow_run.id = beat.id
        AND (flow_run.last_heartbeat IS NULL OR flow_run.last_heartbeat < beat.occurred)
    `.execute(db.kysely);
  }
}

/** `value` starts with `prefix`, compared exactly (SQLite's LIKE would ignore case). */
function startsWith(value: RawBuilder<unknown>, prefix: string): RawBuilder<SqlBool> {
  // Both databases count characters, which is what the spread counts.
  return sql<SqlBool>`substr(${value}, 1, ${[...prefix].length}) = ${prefix}`;
}

/**
 * `conds` joined by AND (or OR), parenthesised as a balanced tree. SQLite refuses an
 * expression nested more than 1,000 deep ("Expression tree is too large"), and a chain
 * `a OR b OR c ...` nests one level per term, while a filter may carry 1,000 prefixes in one
 * list and 5,000 values in all. Balanced, 5,000 terms nest 13 deep; the meaning is the same.
 */
function joined(conds: ReadonlyArray<RawBuilder<SqlBool>>, op: "AND" | "OR"): RawBuilder<SqlBool> {
  if (conds.length === 1) return conds[0]!;
  const half = Math.ceil(conds.length / 2);
  const left = joined(conds.slice(0, half), op);
  const right = joined(conds.slice(half), op);
  return op === "AND" ? sql<SqlBool>`(${left} AND ${right})` : sql<SqlBool>`(${left} OR ${right})`;
}

function anyOf(conds: ReadonlyArray<RawBuilder<SqlBool>>): RawBuilder<SqlBool> {
  return conds.length === 0 ? sql<SqlBool>`1 = 0` : joined(conds, "OR");
}

function all(conds: ReadonlyArray<RawBuilder<SqlBool>>): RawBuilder<SqlBool> {
  return conds.length === 0 ? sql<SqlBool>`1 = 1` : joined(conds, "AND");
}

/**
 * Above this many values, a list is bound as one JSON array that the query unpacks, rather
 * than as a tree of comparisons: SQLite plans 1,000 ORed comparisons ten times slower.
 */
const LIST_AS_JSON = 32;

const LONE_SURROGATES = new RegExp(LONE_SURROGATE.source, "g");

/**
 * `value` as JSON text for a bound parameter, each lone surrogate (`"\ud800"`, which JSON
 * allows) replaced by U+FFFD: PostgreSQL's jsonb refuses the escape JSON.stringify writes for
 * one (a 500), and U+FFFD is what both drivers bind for it in a plain string parameter, so a
 * value compares the same however it is bound.
 */
function jsonParam(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => (typeof v === "string" ? v.replace(LONE_SURROGATES, "\uFFFD") : v));
}

/** The elements of `values`, bound as one JSON parameter, as rows: `alias.value` (SQLite: text; PostgreSQL: jsonb). */
function jsonList(postgres: boolean, values: readonly unknown[], alias: string): RawBuilder<unknown> {
  const json = jsonParam(values);
  return postgres ? sql`jsonb_array_elements(${json}::jsonb) AS ${sql.raw(alias)}(value)` : sql`json_each(${json}) AS ${sql.raw(alias)}`;
}

/** `value` starts with one of `prefixes`, compared as `startsWith` does. */
function anyPrefix(postgres: boolean, value: RawBuilder<unknown>, prefixes: readonly string[]): RawBuilder<SqlBool> {
  if (prefixes.length <= LIST_AS_JSON) return anyOf(prefixes.map((p) => startsWith(value, p)));
  // json_each gives SQLite text; PostgreSQL's element is jsonb, read as text by #>> '{}'.
  const prefix = postgres ? sql`(pfx.value #>> '{}')` : sql`pfx.value`;
  return sql<SqlBool>`EXISTS (SELECT 1 FROM ${jsonList(postgres, prefixes, "pfx")} WHERE substr(${value}, 1, length(${prefix})) = ${prefix})`;
}

/** `value` is one of `values`; an empty list matches nothing, as `id IN ()` would if SQL allowed it. */
function oneOf(value: RawBuilder<unknown>, values: readonly string[]): RawBuilder<SqlBool> {
  // An IN list is one node however long, so it needs no balancing.
  return values.length === 0 ? sql<SqlBool>`1 = 0` : sql<SqlBool>`${value} IN (${sql.join(values)})`;
}

/** A label's value (`value`, NULL when the label is absent) as `patterns` ask (events/label-patterns.ts). */
function valueCondition(postgres: boolean, value: RawBuilder<unknown>, patterns: LabelPatterns): RawBuilder<SqlBool> {
  if (patterns.empty) return sql<SqlBool>`1 = 0`;
  const conds = [sql<SqlBool>`${value} IS NOT NULL`];
  if (patterns.exact.length + patterns.prefixes.length > 0) {
    conds.push(anyOf([...(patterns.exact.length > 0 ? [oneOf(value, patterns.exact)] : []), ...(patterns.prefixes.length > 0 ? [anyPrefix(postgres, value, patterns.prefixes)] : [])]));
  }
  if (patterns.notExact.length > 0) conds.push(sql<SqlBool>`${value} NOT IN (${sql.join(patterns.notExact)})`);
  if (patterns.notPrefixes.length > 0) conds.push(sql<SqlBool>`NOT ${anyPrefix(postgres, value, patterns.notPrefixes)}`);
  return all(conds);
}

/**
 * The JSON of one resource (an object of labels) as SQL can read it: a label's value by a
 * name the client chose, bound as a parameter. SQLite's `->>` would read a name starting with
 * `$` as a path, so there the label is looked up among the object's keys instead.
 */
interface ResourceJson {
  label(name: string, patterns: LabelPatterns): RawBuilder<SqlBool>;
  /** A label this server names (`prefect.resource.id`), as a plain value. */
  known(name: typeof RESOURCE_ID_LABEL | typeof RESOURCE_ROLE_LABEL): RawBuilder<unknown>;
}

function resourceJson(postgres: boolean, json: RawBuilder<unknown>): ResourceJson {
  if (postgres) {
    return {
      label: (name, patterns) => valueCondition(true, sql`(${json} ->> ${name}::text)`, patterns),
      known: (name) => sql`(${json} ->> ${name}::text)`,
    };
  }
  return {
    label: (name, patterns) =>
      patterns.empty
        ? sql<SqlBool>`1 = 0`
        : sql<SqlBool>`EXISTS (SELECT 1 FROM json_each(${json}) AS lbl WHERE lbl.key = ${name} AND ${valueCondition(false, sql.ref("lbl.value"), patterns)})`,
    known: (name) => sql`json_extract(${json}, ${`$."${name}"`})`,
  };
}

function labelsCondition(resource: ResourceJson, spec: readonly LabelPatterns[]): Array<RawBuilder<SqlBool>> {
  return spec.map((patterns) => resource.label(patterns.label, patterns));
}

/**
 * On PostgreSQL, a condition that every event with a related resource carrying one of
 * `shapes` (objects of labels) meets, answered by the GIN index over `related` (migration
 * 0011); ANDed before the exact EXISTS, which stays the judge. Absent on SQLite.
 */
function relatedContains(postgres: boolean, shapes: ReadonlyArray<Record<string, string>>): RawBuilder<SqlBool> | undefined {
  if (!postgres || shapes.length === 0) return undefined;
  return anyOf(shapes.map((shape) => sql<SqlBool>`${sql.ref("event.related")} @> ${jsonParam([shape])}::jsonb`));
}

/** The related resource (`rid`, `role`) is one of `pairs` of id and role. */
function inRoles(postgres: boolean, rid: RawBuilder<unknown>, role: RawBuilder<unknown>, pairs: ReadonlyArray<readonly [string, string]>): RawBuilder<SqlBool> {
  if (pairs.length <= LIST_AS_JSON) return anyOf(pairs.map(([id, inRole]) => sql<SqlBool>`(${rid} = ${id} AND ${role} = ${inRole})`));
  const [wantedId, wantedRole] = postgres ? [sql`(pair.value ->> 0)`, sql`(pair.value ->> 1)`] : [sql`json_extract(pair.value, '$[0]')`, sql`json_extract(pair.value, '$[1]')`];
  return sql<SqlBool>`EXISTS (SELECT 1 FROM ${jsonList(postgres, pairs, "pair")} WHERE ${rid} = ${wantedId} AND ${role} = ${wantedRole})`;
}

/** Some element of the event's `related` array meets `cond` (`rel.value` is the element). */
function someRelated(postgres: boolean, cond: RawBuilder<SqlBool>): RawBuilder<SqlBool> {
  return postgres
    ? sql<SqlBool>`EXISTS (SELECT 1 FROM jsonb_array_elements(${sql.ref("event.related")}) AS rel(value) WHERE ${cond})`
    : sql<SqlBool>`EXISTS (SELECT 1 FROM json_each(${sql.ref("event.related")}) AS rel WHERE ${cond})`;
}

function relatedCondition(postgres: boolean, criteria: EventRelatedFilter): RawBuilder<SqlBool> | undefined {
  if (!relatedConstrains(criteria)) return undefined;
  const rel = resourceJson(postgres, sql.ref("rel.value"));
  const rid = rel.known(RESOURCE_ID_LABEL);
  const role = rel.known(RESOURCE_ROLE_LABEL);
  const conds: Array<RawBuilder<SqlBool>> = [];
  if (criteria.id) conds.push(oneOf(rid, criteria.id));
  if (criteria.role) conds.push(oneOf(role, criteria.role));
  if (criteria.resources_in_roles) {
    conds.push(inRoles(postgres, rid, role, criteria.resources_in_roles));
  }
  conds.push(...labelsCondition(rel, specPatterns(criteria.labels)));
  const exact = someRelated(postgres, all(conds));
  const indexed = criteria.resources_in_roles
    ? relatedContains(postgres, criteria.resources_in_roles.map(([id, inRole]) => ({ [RESOURCE_ID_LABEL]: id, [RESOURCE_ROLE_LABEL]: inRole })))
    : criteria.id
      ? relatedContains(postgres, criteria.id.map((id) => ({ [RESOURCE_ID_LABEL]: id })))
      : criteria.role
        ? relatedContains(postgres, criteria.role.map((role) => ({ [RESOURCE_ROLE_LABEL]: role })))
        : undefined;
  return indexed ? sql<SqlBool>`(${indexed} AND ${exact})` : exact;
}

function anyResourceCondition(postgres: boolean, criteria: EventAnyResourceFilter): RawBuilder<SqlBool> | undefined {
  if (!anyResourceConstrains(criteria)) return undefined;
  const spec = specPatterns(criteria.labels);
  const onResource = (resource: ResourceJson, rid: RawBuilder<unknown>) => {
    const conds: Array<RawBuilder<SqlBool>> = [];
    if (criteria.id) conds.push(oneOf(rid, criteria.id));
    if (criteria.id_prefix) conds.push(anyPrefix(postgres, rid, criteria.id_prefix));
    conds.push(...labelsCondition(resource, spec));
    return all(conds);
  };
  // The event's own resource id has its own (indexed) column.
  const own = onResource(resourceJson(postgres, sql.ref("event.resource")), sql.ref("event.resource_id"));
  const rel = resourceJson(postgres, sql.ref("rel.value"));
  const exact = sql<SqlBool>`(${own} OR ${someRelated(postgres, onResource(rel, rel.known(RESOURCE_ID_LABEL)))})`;
  const related = criteria.id ? relatedContains(postgres, criteria.id.map((id) => ({ [RESOURCE_ID_LABEL]: id }))) : undefined;
  // Both halves indexed (resource_id, related), so PostgreSQL can OR two bitmap scans.
  return related && criteria.id ? sql<SqlBool>`((${oneOf(sql.ref("event.resource_id"), criteria.id)} OR ${related}) AND ${exact})` : exact;
}

/**
 * The WHERE conditions of `filter`, ANDed by the caller (with `all`: a filter may carry
 * thousands of labels); every value the client sent is a bound parameter. They must agree
 * with `eventMatches` (events/matching.ts), which applies the same filter to live events.
 */
export function eventConditions(filter: EventFilter | null | undefined, dialect: DialectName): Array<RawBuilder<SqlBool>> {
  const conds: Array<RawBuilder<SqlBool>> = [];
  if (!filter) return conds;
  const postgres = dialect === "postgres";
  const { occurred, event, resource, id } = filter;
  const name = sql.ref("event.event");
  const resourceId = sql.ref("event.resource_id");
  if (occurred?.since) conds.push(sql<SqlBool>`occurred >= ${occurred.since}`);
  if (occurred?.until) conds.push(sql<SqlBool>`occurred <= ${occurred.until}`);
  if (event?.name) conds.push(oneOf(name, event.name));
  if (event?.exclude_name && event.exclude_name.length > 0) conds.push(sql<SqlBool>`${name} NOT IN (${sql.join(event.exclude_name)})`);
  if (event?.prefix) conds.push(anyPrefix(postgres, name, event.prefix));
  if (event?.exclude_prefix && event.exclude_prefix.length > 0) conds.push(sql<SqlBool>`NOT ${anyPrefix(postgres, name, event.exclude_prefix)}`);
  if (resource?.id) conds.push(oneOf(resourceId, resource.id));
  if (resource?.id_prefix) conds.push(anyPrefix(postgres, resourceId, resource.id_prefix));
  conds.push(...labelsCondition(resourceJson(postgres, sql.ref("event.resource")), specPatterns(resource?.labels)));
  for (const criteria of listOf(filter.related)) {
    const cond = relatedCondition(postgres, criteria);
    if (cond) conds.push(cond);
  }
  for (const criteria of listOf(filter.any_resource)) {
    const cond = anyResourceCondition(postgres, criteria);
    if (cond) conds.push(cond);
  }
  if (id?.id) conds.push(id.id.length === 0 ? sql<SqlBool>`1 = 0` : sql<SqlBool>`id IN (${sql.join(id.id)})`);
  return conds;
}

/** One page of the events matching `filter`, and how many match in all. */
export async function filterEvents(
  db: Database,
  filter: EventFilter | null | undefined,
  page: { limit: number; offset: number },
): Promise<{ events: ReceivedEvent[]; total: number }> {
  const conds = eventConditions(filter, db.dialect.name);
  const where = all(conds);
  const direction = filter?.order === "ASC" ? "asc" : "desc";
  const [rows, count] = await Promise.all([
    page.limit === 0
      ? Promise.resolve([])
      : db.kysely.selectFrom("event").selectAll().where(where).orderBy("occurred", direction).orderBy("id", direction).limit(page.limit).offset(page.offset).execute(),
    db.kysely
      .selectFrom("event")
      .select((eb) => eb.fn.countAll<number | string>().as("n"))
      .where(where)
      .executeTakeFirstOrThrow(),
  ]);
  return { events: rows.map(eventFromRow), total: Number(count.n) };
}

/** Most groups one count returns, and most time buckets one count may ask for (as Prefect). */
const MAX_COUNT_GROUPS = 1000;
const UNIT_SECONDS: Record<TimeUnit, number> = { week: 604_800, day: 86_400, hour: 3600, minute: 60, second: 1 };

/**
 * `POST /events/count-by/{countable}`: how many events match `filter`, by event name, by
 * resource (labelled with its `prefect.resource.name` when it has one), or by time bucket
 * (`day`, or `time` with `time_unit` x `time_interval`), every bucket from the filter's
 * `occurred.since` to `until` listed, empty ones with 0.
 */
export async function countEvents(
  db: Database,
  filter: EventFilter,
  countable: Countable,
  timeUnit: TimeUnit,
  timeInterval: number,
): Promise<EventCount[]> {
  const conds = eventConditions(filter, db.dialect.name);
  const where = all(conds);
  const postgres = db.dialect.name === "postgres";
  if (countable === "event" || countable === "resource") {
    const key = countable === "event" ? "event" : "resource_id";
    const name = postgres ? sql`max(resource ->> 'prefect.resource.name')` : sql`max(json_extract(resource, '$."prefect.resource.name"'))`;
    const rows = await sql<{ value: string; label: string | null; n: number | string; first: string; last: string }>`
      SELECT ${sql.ref(key)} AS value, ${countable === "resource" ? name : sql`NULL`} AS label, count(*) AS n,
        min(occurred) AS first, max(occurred) AS last
      FROM event WHERE ${where}
      GROUP BY ${sql.ref(key)}
      ORDER BY count(*) DESC, ${sql.ref(key)} ASC
      LIMIT ${MAX_COUNT_GROUPS}
    `.execute(db.kysely);
    return rows.rows.map((r) => ({ value: r.value, label: r.label ?? r.value, count: Number(r.n), start_time: toIso(r.first), end_time: toIso(r.last) }));
  }
  const unit: TimeUnit = countable === "day" ? "day" : timeUnit;
  const span = UNIT_SECONDS[unit] * (countable === "day" ? 1 : timeInterval);
  const until = Date.parse(filter.occurred?.until ?? new Date().toISOString());
  const since = Date.parse(filter.occurred?.since ?? new Date(until - 86_400_000).toISOString());
  const start = floorTo(since, unit);
  const buckets = Math.max(1, Math.ceil((until - start) / (span * 1000)));
  if (buckets > MAX_COUNT_GROUPS) {
    throw new InvalidInputError("time_interval", `would make ${buckets} buckets of the time range, more than ${MAX_COUNT_GROUPS}: make the interval longer or the range shorter`);
  }
  const startIso = new Date(start).toISOString();
  const bucket = postgres
    ? sql<number>`floor(extract(epoch from (occurred - ${startIso}::timestamptz)) / ${span})::int`
    : sql<number>`CAST((julianday(occurred) - julianday(${startIso})) * 86400.0 / ${span} AS INTEGER)`;
  const timeWhere = sql<SqlBool>`${where} AND occurred >= ${startIso} AND occurred <= ${new Date(until).toISOString()}`;
  const rows = await sql<{ bucket: number | string; n: number | string }>`
    SELECT ${bucket} AS bucket, count(*) AS n FROM event WHERE ${timeWhere} GROUP BY 1
  `.execute(db.kysely);
  const counts = new Map(rows.rows.map((r) => [Number(r.bucket), Number(r.n)]));
  const out: EventCount[] = [];
  for (let i = 0; i < buckets; i++) {
    const from = new Date(start + i * span * 1000).toISOString();
    const to = new Date(start + (i + 1) * span * 1000 - 1).toISOString();
    out.push({ value: from, label: from, count: counts.get(i) ?? 0, start_time: from, end_time: to });
  }
  return out;
}

/** The start of the time unit `ms` falls in (UTC; weeks start on Monday). */
function floorTo(ms: number, unit: TimeUnit): number {
  const date = new Date(ms);
  switch (unit) {
    case "second":
      return Math.floor(ms / 1000) * 1000;
    case "minute":
      return Math.floor(ms / 60_000) * 60_000;
    case "hour":
      return Math.floor(ms / 3_600_000) * 3_600_000;
    case "day":
      return Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
    case "week": {
      const day = Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), date.getUTCDate());
      return day - ((date.getUTCDay() + 6) % 7) * 86_400_000;
    }
  }
}

/** Timestamps as both databases return them, as ISO strings. */
function toIso(value: string | Date): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString();
}
