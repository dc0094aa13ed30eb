import {
  RESOURCE_ID_LABEL,
  RESOURCE_ROLE_LABEL,
  type EventAnyResourceFilter,
  type EventFilter,
  type EventRelatedFilter,
  type Log,
  type LogFilter,
  type ReceivedEvent,
} from "@baton/core";
import { resourceMatches, specPatterns } from "./label-patterns.js";

type Labels = Readonly<Record<string, string>>;

/**
 * Whether `event` passes `filter`, in memory: the same criteria `POST /events/filter` applies
 * in SQL (db/queries/events.ts), for the live stream of `events/out`. An `occurred` bound
 * applies only when the filter names it (a live stream has no "until now").
 */
export function eventMatches(filter: EventFilter | null | undefined, event: ReceivedEvent): boolean {
  if (!filter) return true;
  const { occurred, event: names, resource, id } = filter;
  if (occurred?.since && event.occurred < occurred.since) return false;
  if (occurred?.until && event.occurred > occurred.until) return false;
  if (names?.name && !names.name.includes(event.event)) return false;
  if (names?.exclude_name && names.exclude_name.includes(event.event)) return false;
  if (names?.prefix && !names.prefix.some((p) => event.event.startsWith(p))) return false;
  if (names?.exclude_prefix && names.exclude_prefix.some((p) => event.event.startsWith(p))) return false;
  const resourceId = event.resource[RESOURCE_ID_LABEL] ?? "";
  if (resource?.id && !resource.id.includes(resourceId)) return false;
  if (resource?.id_prefix && !resource.id_prefix.some((p) => resourceId.startsWith(p))) return false;
  if (resource?.labels && !resourceMatches(specPatterns(resource.labels), event.resource)) return false;
  if (!listOf(filter.related).every((criteria) => relatedMatches(criteria, event.related))) return false;
  if (!listOf(filter.any_resource).every((criteria) => anyResourceMatches(criteria, [event.resource, ...event.related]))) return false;
  if (id?.id && !id.id.some((wanted) => wanted.toLowerCase() === event.id.toLowerCase())) return false;
  return true;
}

/** `related` and `any_resource` take one criterion or a list of them, all of which must hold. */
export function listOf<T>(criteria: T | T[] | null | undefined): T[] {
  if (criteria == null) return [];
  return Array.isArray(criteria) ? criteria : [criteria];
}

/** A criterion with nothing set constrains nothing (it does not even ask for a related resource). */
export function relatedConstrains(criteria: EventRelatedFilter): boolean {
  return criteria.id != null || criteria.role != null || criteria.resources_in_roles != null || Object.keys(criteria.labels ?? {}).length > 0;
}

export function anyResourceConstrains(criteria: EventAnyResourceFilter): boolean {
  return criteria.id != null || criteria.id_prefix != null || Object.keys(criteria.labels ?? {}).length > 0;
}

/** One related resource meets every part of `criteria`. */
function relatedMatches(criteria: EventRelatedFilter, related: readonly Labels[]): boolean {
  if (!relatedConstrains(criteria)) return true;
  const labels = specPatterns(criteria.labels);
  return related.some((r) => {
    const rid = r[RESOURCE_ID_LABEL] ?? "";
    const role = r[RESOURCE_ROLE_LABEL] ?? "";
    if (criteria.id && !criteria.id.includes(rid)) return false;
    if (criteria.role && !criteria.role.includes(role)) return false;
    if (criteria.resources_in_roles && !criteria.resources_in_roles.some(([wantedId, wantedRole]) => wantedId === rid && wantedRole === role)) return false;
    return resourceMatches(labels, r);
  });
}

/** One of the event's resources, its own or a related one, meets every part of `criteria`. */
function anyResourceMatches(criteria: EventAnyResourceFilter, resources: readonly Labels[]): boolean {
  if (!anyResourceConstrains(criteria)) return true;
  const labels = specPatterns(criteria.labels);
  return resources.some((r) => {
    const rid = r[RESOURCE_ID_LABEL] ?? "";
    if (criteria.id && !criteria.id.includes(rid)) return false;
    if (criteria.id_prefix && !criteria.id_prefix.some((p) => rid.startsWith(p))) return false;
    return resourceMatches(labels, r);
  });
}

/** Whether `log` passes `filter`, in memory, as `POST /logs/filter` does in SQL (db/filters.ts). */
export function logMatches(filter: LogFilter | null | undefined, log: Log): boolean {
  if (!filter) return true;
  const checks: boolean[] = [];
  if (filter.level?.ge_ != null) checks.push(log.level >= filter.level.ge_);
  if (filter.level?.le_ != null) checks.push(log.level <= filter.level.le_);
  if (filter.timestamp?.before_) checks.push(Date.parse(log.timestamp) <= Date.parse(filter.timestamp.before_));
  if (filter.timestamp?.after_) checks.push(Date.parse(log.timestamp) >= Date.parse(filter.timestamp.after_));
  if (filter.flow_run_id?.any_) checks.push(log.flow_run_id !== null && filter.flow_run_id.any_.includes(log.flow_run_id));
  if (filter.task_run_id?.any_) checks.push(log.task_run_id !== null && filter.task_run_id.any_.includes(log.task_run_id));
  if (filter.task_run_id?.is_null_ != null) checks.push((log.task_run_id === null) === filter.task_run_id.is_null_);
  if (filter.text?.query) {
    const query = filter.text.query.toLowerCase();
    checks.push(log.message.toLowerCase().includes(query) || log.name.toLowerCase().includes(query));
  }
  if (checks.length === 0) return true;
  return filter.operator === "or_" ? checks.some(Boolean) : checks.every(Boolean);
}
