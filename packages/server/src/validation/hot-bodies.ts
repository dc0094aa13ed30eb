import {
  MAX_EVENT_BATCH,
  MAX_RELATED_RESOURCES,
  MAX_RESOURCE_LABELS,
  RESOURCE_ID_LABEL,
  RESOURCE_ROLE_LABEL,
  type Event,
  type LogCreate,
} from "@baton/core";

/**
 * Hot-path parsers of the bodies clients send in bulk (`POST /events`, `POST /logs/`): a check
 * of the body as the SDK sends it (canonical timestamps, lower-case ids, no unknown keys where
 * the schema is strict), giving exactly what the zod schema would parse, at a fraction of the
 * cost (zod's walk of 1,000 events was the largest single cost of an events request after
 * storage). Anything else, valid or not, returns undefined: the route then parses it with the
 * zod schema, which also names a bad field.
 */

/** `z.array(Event).max(MAX_EVENT_BATCH)` for events as the SDK writes them. */
export function parseCommonEvents(body: unknown): Event[] | undefined {
  if (!Array.isArray(body) || body.length > MAX_EVENT_BATCH) return undefined;
  const events: Event[] = new Array<Event>(body.length);
  for (let i = 0; i < body.length; i++) {
    const event = commonEvent(body[i]);
    if (event === undefined) return undefined;
    events[i] = event;
  }
  return events;
}

function commonEvent(raw: unknown): Event | undefined {
  if (!isObject(raw)) return undefined;
  const { occurred, event, resource, related = [], payload = {}, id, follows } = raw;
  if (!isCanonicalTime(occurred) || typeof event !== "string" || event.length < 1 || event.length > 1024) return undefined;
  if (!isLowerId(id) || !(follows === undefined || follows === null || isLowerId(follows))) return undefined;
  if (!isLabels(resource, false) || !isObject(payload)) return undefined;
  if (!Array.isArray(related) || related.length > MAX_RELATED_RESOURCES) return undefined;
  for (const r of related) if (!isLabels(r, true)) return undefined;
  // A new object, as zod's: keys the schema does not know are dropped.
  const parsed: Event = { occurred, event, resource, related: related as Event["related"], payload, id };
  if (follows !== undefined) parsed.follows = follows;
  return parsed;
}

/** A resource: string labels within the schema's limits, with an id (and a role, if related). */
function isLabels(value: unknown, related: boolean): value is Record<string, string> {
  if (!isObject(value)) return false;
  let count = 0;
  for (const key in value) {
    const label = value[key];
    if (typeof label !== "string" || key.length > 1024 || label.length > 10_000) return false;
    count++;
  }
  if (count > MAX_RESOURCE_LABELS || !value[RESOURCE_ID_LABEL]) return false;
  return !related || Boolean(value[RESOURCE_ROLE_LABEL]);
}

const LOG_KEYS = new Set(["name", "level", "message", "timestamp", "flow_run_id", "task_run_id"]);

type ParsedLog = LogCreate & { timestamp: string };

/** `z.array(LogCreate).max(max)` for log records as the SDK writes them. */
export function parseCommonLogs(body: unknown, max: number): ParsedLog[] | undefined {
  if (!Array.isArray(body) || body.length > max) return undefined;
  for (const raw of body) if (!isCommonLog(raw)) return undefined;
  return body as ParsedLog[];
}

function isCommonLog(raw: unknown): raw is ParsedLog {
  if (!isObject(raw)) return false;
  // LogCreate is strict: an unknown key is an error, which zod names.
  for (const key in raw) if (!LOG_KEYS.has(key)) return false;
  const { name, level, message, timestamp, flow_run_id, task_run_id } = raw;
  if (typeof name !== "string" || name.length > 5000 || typeof message !== "string" || !isCanonicalTime(timestamp)) return false;
  if (typeof level !== "number" || !Number.isInteger(level) || level < 0 || level > 100) return false;
  return (flow_run_id == null || isLowerId(flow_run_id)) && (task_run_id == null || isLowerId(task_run_id));
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Lower-case UUID-shaped, as `Id` leaves an id. */
const LOWER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function isLowerId(value: unknown): value is string {
  return typeof value === "string" && LOWER_ID.test(value);
}

/** What `DateTime` turns any valid timestamp into; text already in this form is kept as it is. */
const CANONICAL_TIME = /^(\d{4})-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])T([01]\d|2[0-3]):[0-5]\d:[0-5]\d\.\d{3}Z$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Canonical, a real calendar day (no February 30th) and within years 1-9999, as `DateTime` requires. */
export function isCanonicalTime(value: unknown): value is string {
  if (typeof value !== "string" || value.length !== 24) return false;
  const match = CANONICAL_TIME.exec(value);
  if (match === null) return false;
  const year = Number(match[1]);
  const day = Number(match[3]);
  if (year < 1) return false;
  if (day <= 28) return true;
  const month = Number(match[2]);
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month - 1]!);
}
