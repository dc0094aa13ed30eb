import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import type { S3Client } from "@aws-sdk/client-s3";
import { LockTimeoutError, UnsupportedIsolationLevelError } from "../errors.js";
import { waitedSeconds, type LockManager } from "./storage.js";

type S3Module = typeof import("@aws-sdk/client-s3");

/** What the locks need of their bucket. */
export interface S3LockTarget {
  bucket: string;
  /** The folder prefix (`""` or `folder/`); locks live in `<prefix>.locks/`. */
  prefix: string;
  describe(): string;
  connect(): Promise<{ s3: S3Module; client: S3Client }>;
}

/** The body of a lock object: who holds it, and until when unless refreshed. */
interface LockBody {
  holder: string;
  host: string;
  pid: number;
  expires: string;
}

/**
 * Locks for SERIALIZABLE transactions on S3, built on conditional writes: a lock is the object
 * `<folder>/.locks/<key>`, created with `PutObject` and `If-None-Match: *`, which S3 refuses
 * (412) when the object exists, so one creator wins. The holder rewrites it every third of
 * `staleSeconds` with a later `expires`, each time with `If-Match` on its own ETag; a lock
 * whose `expires` has passed (its holder died) is taken over with `If-Match` on the stale
 * object's ETag, so two waiters cannot both take it. Release deletes it with `If-Match`.
 * Expiry compares the holder's clock with the waiter's: keep the machines' clocks in step
 * (well within `staleSeconds`).
 *
 * A server that ignores `If-None-Match` would let every caller "win"; the first acquire
 * checks (two creates of one probe object) and refuses such a server instead.
 */
export class S3Locks implements LockManager {
  private probe: Promise<void> | undefined;

  constructor(
    private readonly target: S3LockTarget,
    private readonly staleSeconds: number,
  ) {}

  async acquire(key: string, timeoutSeconds: number): Promise<() => Promise<void>> {
    this.probe ??= this.checkConditionalWrites().catch((error: unknown) => {
      // A refusal stands; a network error is tried again on the next acquire.
      if (!(error instanceof UnsupportedIsolationLevelError)) this.probe = undefined;
      throw error;
    });
    await this.probe;
    const objectKey = `${this.target.prefix}.locks/${encodeURIComponent(key)}`;
    const holder = randomUUID();
    const started = Date.now();
    const deadline = started + timeoutSeconds * 1000;
    for (let pause = 50; ; pause = Math.min(pause * 2, 1000)) {
      let etag = await this.put(objectKey, holder, { IfNoneMatch: "*" });
      if (etag === undefined) {
        const current = await this.read(objectKey);
        if (current === undefined) continue; // released meanwhile: try to create it again at once
        if (current.expired) etag = await this.put(objectKey, holder, { IfMatch: current.etag });
      }
      if (etag !== undefined) return this.hold(objectKey, holder, etag);
      if (Date.now() >= deadline) {
        throw new LockTimeoutError(key, waitedSeconds(started), timeoutSeconds, `s3://${this.target.bucket}/${objectKey}`);
      }
      await new Promise((r) => setTimeout(r, pause));
    }
  }

  /**
   * Keeps the lock fresh until released; a refresh refused (someone took over a lock we let go
   * stale) stops refreshing. A tick while the previous refresh is still waiting on S3 is
   * skipped: a second write with `If-Match` on the same ETag would be refused once the first
   * lands, which would read as having lost the lock (and leave it undeleted at release).
   */
  private hold(objectKey: string, holder: string, etag: string): () => Promise<void> {
    let current: string | undefined = etag;
    let refreshing: Promise<void> | undefined;
    const timer = setInterval(() => {
      if (refreshing !== undefined || current === undefined) return;
      const ifMatch = current;
      refreshing = this.put(objectKey, holder, { IfMatch: ifMatch })
        .catch(() => ifMatch)
        // The release waits for this refresh before it clears `current`, so this cannot undo a release.
        .then((etag) => {
          current = etag;
        })
        .finally(() => (refreshing = undefined));
    }, Math.max(200, (this.staleSeconds * 1000) / 3));
    timer.unref();
    return async () => {
      clearInterval(timer);
      await refreshing;
      const mine = current;
      current = undefined;
      if (mine === undefined) return;
      const { s3, client } = await this.target.connect();
      await client.send(new s3.DeleteObjectCommand({ Bucket: this.target.bucket, Key: objectKey, IfMatch: mine })).catch(() => undefined);
    };
  }

  /** The new ETag, or undefined when the condition failed (the lock is someone else's). */
  private async put(objectKey: string, holder: string, condition: { IfNoneMatch: string } | { IfMatch: string }): Promise<string | undefined> {
    const { s3, client } = await this.target.connect();
    const body: LockBody = { holder, host: hostname(), pid: process.pid, expires: new Date(Date.now() + this.staleSeconds * 1000).toISOString() };
    try {
      const answer = await client.send(new s3.PutObjectCommand({ Bucket: this.target.bucket, Key: objectKey, Body: JSON.stringify(body), ContentType: "application/json", ...condition }));
      return answer.ETag ?? "";
    } catch (error) {
      if (conditionFailed(error)) return undefined;
      throw error;
    }
  }

  private async read(objectKey: string): Promise<{ etag: string; expired: boolean } | undefined> {
    const { s3, client } = await this.target.connect();
    try {
      const object = await client.send(new s3.GetObjectCommand({ Bucket: this.target.bucket, Key: objectKey }));
      const text = (await object.Body?.transformToString()) ?? "";
      let expires = Number.NaN;
      try {
        expires = Date.parse((JSON.parse(text) as Partial<LockBody>).expires ?? "");
      } catch {
        // Not a lock body: treated as stale, so a stray object cannot block the key forever.
      }
      return { etag: object.ETag ?? "", expired: !(expires > Date.now()) };
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  }

  private async checkConditionalWrites(): Promise<void> {
    const probeKey = `${this.target.prefix}.locks/.probe-${randomUUID()}`;
    const first = await this.put(probeKey, "probe", { IfNoneMatch: "*" });
    const second = first === undefined ? undefined : await this.put(probeKey, "probe", { IfNoneMatch: "*" });
    const { s3, client } = await this.target.connect();
    await client.send(new s3.DeleteObjectCommand({ Bucket: this.target.bucket, Key: probeKey })).catch(() => undefined);
    if (first === undefined || second !== undefined) {
      throw new UnsupportedIsolationLevelError(
        "SERIALIZABLE",
        this.target.describe(),
        "its S3 server does not honour conditional writes (a second PutObject with If-None-Match: * of one object succeeded), so it cannot hold a lock",
      );
    }
  }
}

/** 412 PreconditionFailed, or 409 ConditionalRequestConflict (a concurrent conditional write won). */
function conditionFailed(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === "PreconditionFailed" || e.name === "ConditionalRequestConflict" || e.$metadata?.httpStatusCode === 412 || e.$metadata?.httpStatusCode === 409;
}
