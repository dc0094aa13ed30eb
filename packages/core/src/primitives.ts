import { z } from "zod";
import { lazySchema } from "./lazy-schema.js";

/**
 * Ids are UUIDs. `z.guid()` accepts any UUID-shaped string (Prefect's Python client
 * may send any version), where `z.uuid()` would insist on RFC 4122 variants.
 */
export const Id = lazySchema(() =>
  z
    .guid()
    // Lower-cased so an id matches itself on SQLite (text) as on PostgreSQL (uuid).
    .transform((s) => s.toLowerCase()));
export type Id = z.infer<typeof Id>;

/**
 * Timestamps travel as ISO 8601 strings. Input may carry any offset or precision; it is
 * normalised to UTC with millisecond precision (`2026-01-01T00:00:00.000Z`) so that the
 * stored text sorts in time order on SQLite and compares equal after a round trip.
 */
export const DateTime = lazySchema(() =>
  z
    .string()
    .refine(isValidTimestamp, { message: "Invalid datetime: expected an ISO 8601 date-time between years 1 and 9999" })
    .transform((s) => normalizeTimestamp(s)));

const TIMESTAMP = /^(\d{4})-(\d{2})-(\d{2})([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$/;

/** Well-formed, a real calendar day (no February 30), and within years 1-9999 as both databases store them. */
function isValidTimestamp(s: string): boolean {
  const match = TIMESTAMP.exec(s);
  if (!match || Number.isNaN(Date.parse(s))) return false;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  if (year < 1 || month < 1 || month > 12 || day < 1) return false;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate();
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  return day <= (month === 2 ? (leap ? 29 : 28) : daysInMonth);
}

export function normalizeTimestamp(s: string): string {
  // A date-time without an offset is read as UTC, as Prefect's server does.
  const hasZone = /(Z|[+-]\d{2}:?\d{2})$/.test(s);
  const withT = s.includes("T") || s.length <= 10 ? s : s.replace(" ", "T");
  return new Date(hasZone || withT.length <= 10 ? withT : `${withT}Z`).toISOString();
}

/** Integers that fit the 32-bit INTEGER columns of both databases. */
export const Int32 = lazySchema(() => z.number().int().min(-2147483648).max(2147483647));

/** A JSON object with arbitrary values. */
export const JsonObject = lazySchema(() => z.record(z.string(), z.unknown()));
export type JsonObject = z.infer<typeof JsonObject>;

export const Tags = lazySchema(() => z.array(z.string().max(500)).max(200));
export const Labels = lazySchema(() => z.record(z.string(), z.union([z.boolean(), z.number(), z.string()])));
export type Labels = z.infer<typeof Labels>;

/** A name as Prefect allows it: no slashes, percent signs, or similar separators. */
export const Name = lazySchema(() =>
  z
    .string()
    .min(1, "must not be empty")
    .max(5000)
    .refine((s) => !/[/%&><]/.test(s), { message: "must not contain /, %, &, > or <" }));

export const CreatedBy = lazySchema(() =>
  z.object({
    id: Id.nullish(),
    type: z.string().nullish(),
    display_value: z.string().nullish(),
  }));
export type CreatedBy = z.infer<typeof CreatedBy>;
