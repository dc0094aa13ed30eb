/**
 * `new Date(ms).toISOString()` for the timestamps the engine writes by the thousand (three
 * states and two log lines per task run of a `.map()`): the text up to the second is kept from
 * the last call, so within a second a timestamp is one concatenation instead of a Date and
 * its formatting (a tenth of the SDK's time per task run, with the garbage).
 */
let second = Number.NaN;
let prefix = "";

/** Milliseconds 0-999 as "000Z".."999Z". */
const MILLIS = Array.from({ length: 1000 }, (_, i) => `${String(i).padStart(3, "0")}Z`);

export function isoTime(ms: number): string {
  // Only whole milliseconds of the years toISOString writes as four digits take the short cut.
  if (!Number.isInteger(ms) || ms < 0 || ms >= 253402300800000) return new Date(ms).toISOString();
  const s = Math.floor(ms / 1000);
  if (s !== second) {
    second = s;
    prefix = new Date(s * 1000).toISOString().slice(0, 20);
  }
  return prefix + MILLIS[ms - s * 1000]!;
}

/** Now, as ISO 8601 text (UTC, milliseconds). */
export function isoNow(): string {
  return isoTime(Date.now());
}
