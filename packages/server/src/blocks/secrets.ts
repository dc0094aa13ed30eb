import { OBFUSCATED_SECRET } from "@baton/core";

/**
 * A block schema names its secret fields in `fields.secret_fields` as dotted paths into the
 * document's data (`password`, `auth.token`), where `*` stands for every key at that level
 * (`headers.*`). Nested objects are walked as Prefect flattens them: arrays and empty
 * objects are leaves.
 */
type Path = string[];
type Flat = Map<string, { path: Path; value: unknown }>;

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function flatten(data: Record<string, unknown>): Flat {
  const flat: Flat = new Map();
  const walk = (node: Record<string, unknown>, prefix: Path) => {
    for (const [key, value] of Object.entries(node)) {
      const path = [...prefix, key];
      if (isObject(value) && Object.keys(value).length > 0) walk(value, path);
      else flat.set(JSON.stringify(path), { path, value });
    }
  };
  walk(data, []);
  return flat;
}

function unflatten(flat: Flat): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const { path, value } of flat.values()) {
    let node = out;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = value;
  }
  return out;
}

export function secretFieldsOf(fields: Record<string, unknown> | undefined): string[] {
  const list = fields?.secret_fields;
  return Array.isArray(list) ? list.filter((f): f is string => typeof f === "string") : [];
}

/** The leaves of `flat` a secret field covers: its own path, or every path under a `*`. */
function coveredKeys(flat: Flat, secretField: string): string[] {
  const parts = secretField.split(".");
  const exact = JSON.stringify(parts);
  const star = parts.indexOf("*");
  if (flat.has(exact) && flat.get(exact)!.value !== null && flat.get(exact)!.value !== undefined) return [exact];
  if (star < 0) return [];
  const prefix = parts.slice(0, star);
  return [...flat.entries()].filter(([, e]) => prefix.every((p, i) => e.path[i] === p) && e.path.length > star).map(([k]) => k);
}

/** The data with every secret value replaced by OBFUSCATED_SECRET. */
export function obfuscateSecrets(data: Record<string, unknown>, secretFields: readonly string[]): Record<string, unknown> {
  if (secretFields.length === 0) return data;
  const flat = flatten(data);
  for (const field of secretFields) {
    for (const key of coveredKeys(flat, field)) flat.get(key)!.value = OBFUSCATED_SECRET;
  }
  return unflatten(flat);
}

/**
 * An update that sends a secret back as OBFUSCATED_SECRET (a client that read the document
 * without secrets and saved it whole) keeps the stored secret rather than storing the stars.
 */
export function keepObfuscatedSecrets(update: Record<string, unknown>, current: Record<string, unknown>, secretFields: readonly string[]): Record<string, unknown> {
  if (secretFields.length === 0) return update;
  const flatUpdate = flatten(update);
  const flatCurrent = flatten(current);
  for (const field of secretFields) {
    for (const key of coveredKeys(flatUpdate, field)) {
      const entry = flatUpdate.get(key)!;
      if (entry.value === OBFUSCATED_SECRET && flatCurrent.has(key)) entry.value = flatCurrent.get(key)!.value;
    }
  }
  return unflatten(flatUpdate);
}
