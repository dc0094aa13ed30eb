import type { ResourceSpecification } from "@baton/core";

/**
 * The values one label of a `ResourceSpecification` may take, sorted by kind: `x` is an exact
 * value, `x*` a prefix, and a leading `!` turns either into an exclusion. Both the SQL of
 * `POST /events/filter` and the in-memory matcher of `events/out` read labels through this,
 * so the two agree on every case.
 *
 * The label must be present; its value must then equal one of the exact values or start with
 * one of the prefixes (when any are given), and must match none of the exclusions. An empty
 * list matches nothing. This is Prefect's reading wherever its SQL and in-memory paths agree;
 * where they differ (several exclusions, or exact values mixed with prefixes) it takes the
 * reading that does what the list says: `["!a", "!b"]` excludes both, `["a", "b*"]` takes either.
 */
export interface LabelPatterns {
  label: string;
  /** No value given: nothing matches. */
  empty: boolean;
  exact: string[];
  prefixes: string[];
  notExact: string[];
  notPrefixes: string[];
}

export function labelPatterns(label: string, expected: string | readonly string[]): LabelPatterns {
  const values = typeof expected === "string" ? [expected] : expected;
  const patterns: LabelPatterns = { label, empty: values.length === 0, exact: [], prefixes: [], notExact: [], notPrefixes: [] };
  for (const value of values) {
    const negated = value.startsWith("!");
    const body = negated ? value.slice(1) : value;
    const prefix = body.endsWith("*");
    const text = prefix ? body.slice(0, -1) : body;
    if (negated) (prefix ? patterns.notPrefixes : patterns.notExact).push(text);
    else (prefix ? patterns.prefixes : patterns.exact).push(text);
  }
  return patterns;
}

/** Each label of `spec` as patterns; an empty specification yields none and so constrains nothing. */
export function specPatterns(spec: ResourceSpecification | null | undefined): LabelPatterns[] {
  return Object.entries(spec ?? {}).map(([label, expected]) => labelPatterns(label, expected));
}

export function valueMatches(patterns: LabelPatterns, value: string | undefined): boolean {
  if (patterns.empty || value === undefined) return false;
  const positive = patterns.exact.length + patterns.prefixes.length > 0;
  if (positive && !patterns.exact.includes(value) && !patterns.prefixes.some((p) => value.startsWith(p))) return false;
  if (patterns.notExact.includes(value) || patterns.notPrefixes.some((p) => value.startsWith(p))) return false;
  return true;
}

/** Whether `resource` (a flat map of labels) carries every label of the specification. */
export function resourceMatches(spec: readonly LabelPatterns[], resource: Readonly<Record<string, string>>): boolean {
  // Own properties only: a label named "constructor" must not find Object.prototype's.
  return spec.every((patterns) => valueMatches(patterns, Object.hasOwn(resource, patterns.label) ? resource[patterns.label] : undefined));
}
