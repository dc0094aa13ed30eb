/**
 * IANA time zones through the runtime's Intl data, with no library: schedules need the
 * offset of a zone at an instant, and the instant a local wall-clock time stands for.
 *
 * Wall-clock times are passed as "floating" milliseconds: `Date.UTC(y, m, d, h, min, s)` of
 * the local fields, so that calendar arithmetic on them (add a day) ignores offsets.
 */

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      second: "2-digit",
      era: "short",
    });
    formatters.set(zone, f);
  }
  return f;
}

/**
 * Whether `zone` is an IANA zone name the runtime knows ("Europe/Berlin", "UTC"). Offsets
 * such as "+02:00" are refused: they carry no daylight-saving rules.
 */
export function isValidTimeZone(zone: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+\-/]*$/.test(zone)) return false;
  try {
    formatter(zone);
    return true;
  } catch {
    return false;
  }
}

/** The zone's offset from UTC at `instantMs`, in minutes (Berlin in summer: 120). */
export function timeZoneOffsetMinutes(zone: string, instantMs: number): number {
  return offsetMs(zone, instantMs) / 60000;
}

/** The local wall-clock time in `zone` at `instantMs`, as floating milliseconds. */
export function instantToWallClock(zone: string, instantMs: number): number {
  return instantMs + offsetMs(zone, instantMs);
}

/** Offsets change at most once in any quarter hour (tzdata has no closer changes). */
const BUCKET_MS = 15 * 60_000;
const MAX_CACHED_BUCKETS = 50_000;
const bucketOffsets = new Map<string, Map<number, number>>();

/**
 * The offset at an instant, in milliseconds. Intl is slow (microseconds a call) and schedules
 * ask for many nearby instants, so offsets are remembered at quarter-hour marks: where the
 * marks around an instant agree, no change lies between them and that offset holds.
 */
function offsetMs(zone: string, instantMs: number): number {
  let cache = bucketOffsets.get(zone);
  if (!cache) {
    cache = new Map();
    bucketOffsets.set(zone, cache);
  }
  if (cache.size > MAX_CACHED_BUCKETS) cache.clear();
  const mark = Math.floor(instantMs / BUCKET_MS);
  const at = (m: number) => {
    let o = cache.get(m);
    if (o === undefined) {
      o = exactOffsetMs(zone, m * BUCKET_MS);
      cache.set(m, o);
    }
    return o;
  };
  const before = at(mark);
  if (instantMs === mark * BUCKET_MS || before === at(mark + 1)) return before;
  return exactOffsetMs(zone, instantMs);
}

function exactOffsetMs(zone: string, instantMs: number): number {
  const parts = formatter(zone).formatToParts(new Date(instantMs));
  const get = (type: Intl.DateTimeFormatPartTypes) => Number(parts.find((p) => p.type === type)?.value ?? 0);
  const era = parts.find((p) => p.type === "era")?.value;
  const yearValue = get("year");
  const year = era === "BC" || era === "B" ? 1 - yearValue : yearValue;
  const floating = new Date(Date.UTC(2000, get("month") - 1, get("day"), get("hour"), get("minute"), get("second")));
  floating.setUTCFullYear(year);
  return floating.getTime() - Math.floor(instantMs / 1000) * 1000;
}

/**
 * The instant a local wall-clock time in `zone` stands for, by the rule every schedule
 * follows:
 * - a time that occurs twice (clocks set back) means its first occurrence;
 * - a time that does not occur (clocks set forward) means the first instant after the gap,
 *   i.e. the moment of the change (02:30 on a night Berlin skips 02:00-03:00 is 03:00 CEST).
 */
export function wallClockToInstant(zone: string, wallMs: number): number {
  const day = 86_400_000;
  const before = offsetMs(zone, wallMs - day);
  const after = offsetMs(zone, wallMs + day);
  // Most times are far from any change: one offset around them, and it holds.
  const candidates = before === after ? [before] : [before, after];
  const valid = candidates.map((o) => wallMs - o).filter((t) => offsetMs(zone, t) === wallMs - t);
  if (valid.length > 0) return Math.min(...valid);
  // In a gap: read with the offset before the change the time lands after it, with the one
  // after the change before it. The change itself lies between; find it to the millisecond.
  let low = wallMs - Math.max(before, after);
  let high = wallMs - Math.min(before, after);
  const lowOffset = offsetMs(zone, low);
  while (high - low > 1) {
    const mid = Math.floor((low + high) / 2);
    if (offsetMs(zone, mid) === lowOffset) low = mid;
    else high = mid;
  }
  return high;
}
