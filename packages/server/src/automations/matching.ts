import { RESOURCE_ID_LABEL, RESOURCE_ROLE_LABEL, type EventTrigger, type ReceivedEvent, type ResourceSpecification } from "@baton/core";

/**
 * How a trigger decides which events concern it, as Prefect's does: event names with
 * trailing `*` wildcards, resource labels by value, prefix (`prefect.flow-run.*`) or
 * negation (`!value`), and `for_each` keys that split one trigger into one count per value.
 */

/** `expected` matches `value`: exact, or a prefix when it ends in `*`; a leading `!` negates. */
export function labelMatches(expected: string, value: string | undefined): boolean {
  if (value === undefined) return false;
  let positive = true;
  let pattern = expected;
  if (pattern.startsWith("!")) {
    positive = false;
    pattern = pattern.slice(1);
  }
  const match = pattern.endsWith("*") ? value.startsWith(pattern.slice(0, -1)) : value === pattern;
  return positive ? match : !match;
}

function specMatches(spec: ResourceSpecification, resource: Record<string, string>): boolean {
  for (const [label, expected] of Object.entries(spec)) {
    const candidates = Array.isArray(expected) ? expected : [expected];
    const value = resource[label];
    if (!candidates.some((candidate) => labelMatches(candidate, value))) return false;
  }
  return true;
}

/** An empty specification covers everything; otherwise one of `resources` must match every label. */
export function specIncludes(spec: ResourceSpecification, resources: ReadonlyArray<Record<string, string>>): boolean {
  if (Object.keys(spec).length === 0) return true;
  return resources.some((resource) => specMatches(spec, resource));
}

export function eventNameMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** A trigger's view of event names and resources, computed once when the automation loads. */
export class TriggerMatcher {
  private readonly names: string[];

  constructor(readonly trigger: EventTrigger) {
    this.names = trigger.expect.length === 0 ? [] : [...trigger.expect, ...trigger.after];
  }

  /** Whether the trigger is interested in `event` at all (by name, resource and related resources). */
  covers(event: ReceivedEvent): boolean {
    if (this.names.length > 0 && !this.names.some((pattern) => eventNameMatches(pattern, event.event))) return false;
    if (!specIncludes(this.trigger.match, [event.resource])) return false;
    const related = Array.isArray(this.trigger.match_related) ? this.trigger.match_related : [this.trigger.match_related];
    return related.every((spec) => specIncludes(spec, event.related));
  }

  startsAfter(name: string): boolean {
    return this.trigger.after.some((pattern) => eventNameMatches(pattern, name));
  }

  expects(name: string): boolean {
    return this.trigger.expect.length === 0 || this.trigger.expect.some((pattern) => eventNameMatches(pattern, name));
  }

  /** The values of the `for_each` labels (sorted by label) on this event: which bucket it counts in. */
  bucketingKey(event: ReceivedEvent): string[] {
    return [...this.trigger.for_each].sort().map((label) => findResourceLabel(event, label) ?? "");
  }
}

/**
 * A label of the event's resource, or with `related:<role>:<label>` of the first related
 * resource in that role (`related:flow:prefect.resource.id`).
 */
export function findResourceLabel(event: ReceivedEvent, label: string): string | undefined {
  if (label.startsWith("related:")) {
    const [, role, ...rest] = label.split(":");
    const name = rest.join(":");
    const related = event.related.find((r) => r[RESOURCE_ROLE_LABEL] === role);
    return related?.[name];
  }
  return event.resource[label];
}

/** The id of the resource of `kind` (`flow-run`, `deployment`...) the event is about or related to. */
export function resourceIdOfKind(event: ReceivedEvent | null, kind: string): string | undefined {
  if (!event) return undefined;
  const prefix = `prefect.${kind}.`;
  const own = event.resource[RESOURCE_ID_LABEL];
  if (own?.startsWith(prefix)) return own.slice(prefix.length);
  for (const related of event.related) {
    const id = related[RESOURCE_ID_LABEL];
    if (id?.startsWith(prefix)) return id.slice(prefix.length);
  }
  return undefined;
}
