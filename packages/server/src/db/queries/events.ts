import { FLOW_RUN_HEARTBEAT_EVENT, RESOURCE_ID_LABEL, type Event, type EventFilter, type ReceivedEvent } from "@baton/core";
import { sql, type RawBuilder, type Selectable, type SqlBool } from "kysely";
import type { Database } from "../database.js";
import { fromJson } from "../json.js";
import type { EventTable } from "../schema.js";

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

/**
 * Stores a batch of events in one statement: the batch travels as one JSON parameter that
 * the database unpacks (`jsonb_to_recordset` / `json_each`), so a batch of thousands is one
 * round trip with no bound-parameter limit. An event whose id is already stored is skipped,
 * so a batch delivered twice, or a client resending after a lost response, duplicates
 * nothing (Prefect deduplicates by event id too).
 */
export async function insertEvents(db: Database, events: readonly ReceivedEvent[]): Promise<void> {
  if (events.length === 0) return;
  const rows = events.map((event) => ({
    id: event.id,
    occurred: event.occurred,
    received: event.received,
    event: event.event,
    resource_id: event.resource[RESOURCE_ID_LABEL] ?? "",
    resource: event.resource,
    related: event.related,
    payload: event.payload,
    follows: event.follows ?? null,
  }));
  const batch = JSON.stringify(rows);
  if (db.dialect.name === "postgres") {
    await sql`
      INSERT INTO event (id, occurred, received, event, resource_id, resource, related, payload, follows)
      SELECT r.id, r.occurred, r.received, r.event, r.resource_id, r.resource, r.related, r.payload, r.follows
      FROM jsonb_to_recordset(${batch}::jsonb)
        AS r(id uuid, occurred timestamptz, received timestamptz, event text, resource_id text, resource jsonb, related jsonb, payload jsonb, follows uuid)
      ON CONFLICT (id) DO NOTHING
    `.execute(db.kysely);
  } else {
    await sql`
      INSERT INTO event (id, occurred, received, event, resource_id, resource, related, payload, follows)
      SELECT j.value ->> 'id', j.value ->> 'occurred', j.value ->> 'received', j.value ->> 'event', j.value ->> 'resource_id',
        j.value -> 'resource', j.value -> 'related', j.value -> 'payload', j.value ->> 'follows'
      FROM json_each(${batch}) AS j WHERE true
      ON CONFLICT (id) DO NOTHING
    `.execute(db.kysely);
  }
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

/** `column` starts with `prefix`, compared exactly (SQLite's LIKE would ignore case). */
function startsWith(column: string, prefix: string): RawBuilder<SqlBool> {
  // Both databases count characters, which is what the spread counts.
  return sql<SqlBool>`substr(${sql.ref(column)}, 1, ${[...prefix].length}) = ${prefix}`;
}

function anyPrefix(column: string, prefixes: readonly string[]): RawBuilder<SqlBool> {
  if (prefixes.length === 0) return sql<SqlBool>`1 = 0`;
  return sql<SqlBool>`(${sql.join(prefixes.map((p) => startsWith(column, p)), sql` OR `)})`;
}

function eventConditions(filter: EventFilter | null | undefined): Array<RawBuilder<SqlBool>> {
  const conds: Array<RawBuilder<SqlBool>> = [];
  if (!filter) return conds;
  const { occurred, event, resource, id } = filter;
  if (occurred?.since) conds.push(sql<SqlBool>`occurred >= ${occurred.since}`);
  if (occurred?.until) conds.push(sql<SqlBool>`occurred <= ${occurred.until}`);
  if (event?.name) conds.push(event.name.length === 0 ? sql<SqlBool>`1 = 0` : sql<SqlBool>`event IN (${sql.join(event.name)})`);
  if (event?.exclude_name && event.exclude_name.length > 0) conds.push(sql<SqlBool>`event NOT IN (${sql.join(event.exclude_name)})`);
  if (event?.prefix) conds.push(anyPrefix("event", event.prefix));
  if (event?.exclude_prefix && event.exclude_prefix.length > 0) conds.push(sql<SqlBool>`NOT ${anyPrefix("event", event.exclude_prefix)}`);
  if (resource?.id) conds.push(resource.id.length === 0 ? sql<SqlBool>`1 = 0` : sql<SqlBool>`resource_id IN (${sql.join(resource.id)})`);
  if (resource?.id_prefix) conds.push(anyPrefix("resource_id", resource.id_prefix));
  if (id?.id) conds.push(id.id.length === 0 ? sql<SqlBool>`1 = 0` : sql<SqlBool>`id IN (${sql.join(id.id)})`);
  return conds;
}

/** One page of the events matching `filter`, and how many match in all. */
export async function filterEvents(
  db: Database,
  filter: EventFilter | null | undefined,
  page: { limit: number; offset: number },
): Promise<{ events: ReceivedEvent[]; total: number }> {
  const conds = eventConditions(filter);
  const where = conds.length > 0 ? sql<SqlBool>`${sql.join(conds, sql` AND `)}` : sql<SqlBool>`1 = 1`;
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
