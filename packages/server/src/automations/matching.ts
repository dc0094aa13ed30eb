import { RESOURCE_ID_LABEL, RESOURCE_ROLE_LABEL, type EventTrigger, type ReceivedEvent } from "@baton/core";
import { resourceMatches, specPatterns, type LabelPatterns } from "../events/label-patterns.js";

/**
 * How a trigger decides which events concern it, as Prefect's does: event names with
 * trailing `*` wildcards, resource labels by value, prefix (`prefect.flow-run.*`), any value
 * (`*`) or negation (`!value`), and `for_each` keys that split one trigger into one count per
 * value.
 *
 * Labels are read exactly as an event filter reads them (events/label-patterns.ts), so an
 * automation and `POST /events/filter` with the same specification select the same events.
 * For one value, or a list of values and prefixes, that is Prefect's reading. For a list with
 * negations Prefect's trigger takes any one entry that matches, so `["!a", "!b"]` would match
 * every value, `a` and `b` included; here, as in Prefect's SQL filter, it excludes both.
 */

/** A label of `resource` by name: own labels only (an event may carry `constructor` or `__proto__`, or lack them). */
export function labelOf(resource: Readonly<Record<string, string>> | undefined, label: string): string | undefined {
  return resource && Object.hasOwn(resource, label) ? resource[label] : undefined;
}

/** An empty specification covers everything; otherwise one of `resources` must match every label. */
function specIncludes(spec: readonly LabelPatterns[], resources: ReadonlyArray<Record<string, string>>): boolean {
  if (spec.length === 0) return true;
  return resources.some((resource) => resourceMatches(spec, resource));
}

export function eventNameMatches(pattern: string, name: string): boolean {
  return pattern.endsWith("*") ? name.startsWith(pattern.slice(0, -1)) : name === pattern;
}

/** A trigger's view of event names and resources, computed once when the automation loads. */
export class TriggerMatcher {
  private readonly names: string[];
  private readonly match: LabelPatterns[];
  private readonly matchRelated: LabelPatterns[][];

  constructor(readonly trigger: EventTrigger) {
    this.names = trigger.expect.length === 0 ? [] : [...trigger.expect, ...trigger.after];
    this.match = specPatterns(trigger.match);
    const related = Array.isArray(trigger.match_related) ? trigger.match_related : [trigger.match_related];
    this.matchRelated = related.map((spec) => specPatterns(spec));
  }

  /** Whether the trigger is interested in `event` at all (by name, resource and related resources). */
  covers(event: ReceivedEvent): boolean {
    if (this.names.length > 0 && !this.names.some((pattern) => eventNameMatches(pattern, event.event))) return false;
    if (!specIncludes(this.match, [event.resource])) return false;
    // Each specification of `match_related` is met by some related resource (not
    // necessarily the same one).
    return this.matchRelated.every((spec) => specIncludes(spec, event.related));
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
    const related = event.related.find((r) => labelOf(r, RESOURCE_ROLE_LABEL) === role);
    return labelOf(related, name);
  }
  return labelOf(event.resource, label);
}

/** The id of the resource of `kind` (`flow-run`, `deployment`...) the event is about or related to. */
export function resourceIdOfKind(event: ReceivedEvent | null, kind: string): string | undefined {
  if (!event) return undefined;
  const prefix = `prefect.${kind}.`;
  const own = labelOf(event.resource, RESOURCE_ID_LABEL);
  if (own?.startsWith(prefix)) return own.slice(prefix.length);
  for (const related of event.related) {
    const id = labelOf(related, RESOURCE_ID_LABEL);
    if (id?.startsWith(prefix)) return id.slice(prefix.length);
  }
  return undefined;
}
