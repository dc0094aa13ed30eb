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

let lastMs = 0;
let sequence = 0;

/**
 * A UUIDv7: time-ordered, so ids sort by creation (ID_DESC lists newest first, and logs of
 * one batch keep their order). Within one millisecond a 12-bit counter keeps them increasing.
 */
export function newId(): string {
  let ms = Date.now();
  if (ms <= lastMs) {
    sequence += 1;
    if (sequence > 0xfff) {
      lastMs += 1;
      sequence = 0;
    }
    ms = lastMs;
  } else {
    lastMs = ms;
    sequence = 0;
  }
  const random = crypto.getRandomValues(new Uint8Array(8));
  const hex = ms.toString(16).padStart(12, "0");
  const seq = (0x7000 | sequence).toString(16);
  const variant = ((random[0]! & 0x3f) | 0x80).toString(16).padStart(2, "0");
  const rest = Array.from(random.subarray(1), (b) => b.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${seq}-${variant}${rest.slice(0, 2)}-${rest.slice(2, 14)}`;
}
