/** JSON columns are stored as text on both dialects; these convert at the row boundary. */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

export function fromJson<T>(text: string | null | undefined, fallback: T): T {
  if (text == null) return fallback;
  const value = JSON.parse(text) as T | null;
  return value ?? fallback;
}

export function toBool(value: boolean | null | undefined): number {
  return value ? 1 : 0;
}

// Server-made ids are UUIDv7s (the SDK makes its task runs' and states' ids the same way).
export { newId } from "@baton/core";
