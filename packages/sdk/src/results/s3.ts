import { importModule } from "@baton/core";
import type { S3Client, S3ClientConfig } from "@aws-sdk/client-s3";
import { InvalidOptionError } from "../errors.js";
import { S3Locks } from "./s3-locks.js";
import { staleSecondsOption, type LockManager, type ResultStorage } from "./storage.js";

type S3Module = typeof import("@aws-sdk/client-s3");

export interface S3BucketOptions {
  bucket: string;
  /** A folder (key prefix) inside the bucket, e.g. `results/` (Prefect's `bucket_folder`). */
  folder?: string;
  /** An S3-compatible server's URL (MinIO, Ceph, R2, a test server); unset for AWS itself. */
  endpointUrl?: string;
  /** Defaults to `AWS_REGION`, else `us-east-1`. */
  region?: string;
  /** Unset: the AWS SDK's own chain (`AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`, profiles, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Path-style URLs (`endpoint/bucket/key`), which most S3-compatible servers need; default true when `endpointUrl` is set. */
  forcePathStyle?: boolean;
  /**
   * Locks for SERIALIZABLE transactions, as lock objects in `<folder>/.locks/` written with
   * conditional writes (`If-None-Match` / `If-Match`): AWS S3 and servers that honour them
   * (MinIO, moto). Off by default; the first lock checks that the server honours them.
   */
  locking?: boolean;
  /** A held lock is refreshed every third of this; one not refreshed for this long is taken over (default 30). */
  lockStaleSeconds?: number;
  /** A client of your own, instead of one built from the options above. */
  client?: S3Client;
  blockDocumentId?: string | null;
}

/**
 * Result records as objects in an S3 bucket (AWS or any S3-compatible store), through
 * `@aws-sdk/client-s3`, loaded when first used. With `locking: true` it locks SERIALIZABLE
 * transactions with conditional writes (s3-locks.ts); without, they are refused on it (as
 * Prefect does without a lock manager).
 *
 * @example
 * import { S3Bucket, flow } from "@baton/sdk";
 * const storage = new S3Bucket({ bucket: "results", folder: "etl", endpointUrl: "http://127.0.0.1:9000" });
 * const etl = flow({ persistResult: true, resultStorage: storage }, async function etl() { return 42; });
 */
export class S3Bucket implements ResultStorage {
  readonly blockTypeSlug = "s3-bucket";
  readonly blockDocumentId: string | null;
  /** Set when made with `locking: true`. */
  readonly locks?: LockManager;
  private readonly prefix: string;
  private client: Promise<{ s3: S3Module; client: S3Client }> | undefined;

  constructor(private readonly options: S3BucketOptions) {
    if (typeof options?.bucket !== "string" || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(options.bucket)) {
      throw new InvalidOptionError("S3Bucket.bucket", `'${String(options?.bucket)}' is not a valid bucket name (3-63 lowercase letters, digits, dots, dashes)`);
    }
    if (options.endpointUrl !== undefined && !/^https?:\/\//.test(options.endpointUrl)) {
      throw new InvalidOptionError("S3Bucket.endpointUrl", "must be an http:// or https:// URL");
    }
    const folder = (options.folder ?? "").replace(/^\/+|\/+$/g, "");
    this.prefix = folder === "" ? "" : `${folder}/`;
    this.blockDocumentId = options.blockDocumentId ?? null;
    const stale = staleSecondsOption("S3Bucket.lockStaleSeconds", options.lockStaleSeconds ?? 30);
    if (options.locking === true) {
      this.locks = new S3Locks({ bucket: options.bucket, prefix: this.prefix, describe: () => this.describe(), connect: () => this.connect() }, stale);
    }
  }

  describe(): string {
    return `s3://${this.options.bucket}/${this.prefix}`;
  }

  async readPath(key: string): Promise<Buffer | undefined> {
    const { s3, client } = await this.connect();
    try {
      const object = await client.send(new s3.GetObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key }));
      if (object.Body === undefined) return Buffer.alloc(0);
      return Buffer.from(await object.Body.transformToByteArray());
    } catch (error) {
      const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "NoSuchKey" || e.$metadata?.httpStatusCode === 404) return undefined;
      throw error;
    }
  }

  async writePath(key: string, data: Buffer): Promise<void> {
    const { s3, client } = await this.connect();
    await client.send(new s3.PutObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key, Body: data, ContentType: "application/json" }));
  }

  async deletePath(key: string): Promise<void> {
    const { s3, client } = await this.connect();
    await client.send(new s3.DeleteObjectCommand({ Bucket: this.options.bucket, Key: this.prefix + key }));
  }

  /** Every key under the folder (ListObjectsV2, page by page), without the folder prefix. */
  async *listPaths(): AsyncIterable<string> {
    const { s3, client } = await this.connect();
    let token: string | undefined;
    do {
      const page = await client.send(new s3.ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: this.prefix || undefined, ContinuationToken: token }));
      for (const object of page.Contents ?? []) {
        const key = object.Key?.startsWith(this.prefix) ? object.Key.slice(this.prefix.length) : undefined;
        if (key !== undefined && key !== "" && !key.startsWith(".locks/")) yield key;
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  private connect(): Promise<{ s3: S3Module; client: S3Client }> {
    this.client ??= importModule<S3Module>(import.meta.resolve("@aws-sdk/client-s3")).then((s3) => {
      const { endpointUrl, region, credentials, forcePathStyle } = this.options;
      const config: S3ClientConfig = {
        region: region ?? process.env.AWS_REGION ?? "us-east-1",
        ...(endpointUrl !== undefined ? { endpoint: endpointUrl } : {}),
        forcePathStyle: forcePathStyle ?? endpointUrl !== undefined,
        ...(credentials !== undefined ? { credentials } : {}),
      };
      return { s3, client: this.options.client ?? new s3.S3Client(config) };
    });
    return this.client;
  }
}
