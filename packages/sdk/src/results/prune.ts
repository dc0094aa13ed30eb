import { ResultRecord } from "@baton/core";
import { InvalidOptionError } from "../errors.js";
import type { ResultStorage } from "./storage.js";

/** What `pruneExpiredRecords` found and did. */
export interface PruneReport {
  /** Where it looked (`storage.describe()`). */
  storage: string;
  /** Keys read. */
  scanned: number;
  /** Keys of result records past their `expiration`: deleted, unless `dryRun`. */
  expired: string[];
  /** Of those, how many were deleted (0 with `dryRun`). */
  deleted: number;
  /** Files that are not result records (a transaction's lock, `task.delay()` parameters, your own files): left alone. */
  notRecords: number;
}

/**
 * Deletes the result records in `storage` whose `metadata.expiration` has passed (a cached
 * result after its `cacheExpiration`). Records without an expiration, and anything that is not
 * a result record, are left alone. Expired records are never used (a cache lookup ignores
 * them, and the next run at that key replaces them); this only frees their space. Each record
 * is read again just before it is deleted, and kept if it changed in between (a run replaced
 * it), so a fresh record is not lost to a prune that read the old one.
 *
 * @example
 * import { LocalFileSystem, pruneExpiredRecords } from "@baton/sdk";
 * const report = await pruneExpiredRecords(new LocalFileSystem({ basepath: "/mnt/results" }));
 * console.log(`deleted ${report.deleted} of ${report.scanned}`);
 */
export async function pruneExpiredRecords(storage: ResultStorage, options: { now?: Date; dryRun?: boolean } = {}): Promise<PruneReport> {
  if (typeof storage.listPaths !== "function") {
    throw new InvalidOptionError("storage", `${storage.describe()} cannot list its keys (no listPaths), so its expired records cannot be found`);
  }
  const now = options.now === undefined ? Date.now() : options.now instanceof Date ? options.now.getTime() : Number.NaN;
  // An invalid date compares as NaN, which would make every record with an expiration look expired.
  if (Number.isNaN(now)) throw new InvalidOptionError("pruneExpiredRecords.now", "must be a valid Date");
  const report: PruneReport = { storage: storage.describe(), scanned: 0, expired: [], deleted: 0, notRecords: 0 };
  for await (const key of storage.listPaths()) {
    report.scanned++;
    const bytes = await storage.readPath(key);
    if (bytes === undefined) continue;
    const expiration = expirationOf(bytes);
    if (expiration === undefined) {
      report.notRecords++;
      continue;
    }
    if (expiration === null || expiration > now) continue;
    report.expired.push(key);
    if (options.dryRun) continue;
    const again = await storage.readPath(key);
    if (again === undefined || !again.equals(bytes)) continue;
    await storage.deletePath(key);
    report.deleted++;
  }
  return report;
}

/** The record's expiration in ms (null: never expires); undefined when the bytes are not a result record. */
function expirationOf(bytes: Buffer): number | null | undefined {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch {
    return undefined;
  }
  const parsed = ResultRecord.safeParse(json);
  if (!parsed.success) return undefined;
  const { expiration } = parsed.data.metadata;
  if (expiration === null) return null;
  const ms = Date.parse(expiration);
  return Number.isNaN(ms) ? null : ms;
}
