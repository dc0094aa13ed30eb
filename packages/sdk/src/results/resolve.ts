import type { BlockDocument, ServerDefaultResultStorage } from "@baton/core";
import type { BatonClient } from "../client.js";
import { InvalidOptionError } from "../errors.js";
import { currentSettings } from "../settings.js";
import { S3Bucket } from "./s3.js";
import { LocalFileSystem, type ResultStorage } from "./storage.js";

/**
 * Which storage a result goes to when the task or flow names none, as Prefect resolves it:
 *
 * 1. S3 from the settings (`BATON_RESULTS_S3_BUCKET`, with `..._S3_FOLDER`, `..._S3_ENDPOINT_URL`,
 *    `..._S3_REGION`, `..._S3_FORCE_PATH_STYLE`; credentials from the AWS SDK's usual variables);
 * 2. the server's default result storage block (`PUT /api/admin/storage`), read again every 30 s;
 * 3. `LocalFileSystem` at `BATON_LOCAL_STORAGE_PATH` (default `$BATON_HOME/storage`).
 *
 * A reference with a `storage_block_id` is read from that block document's storage instead.
 */
export async function defaultResultStorage(client: BatonClient | undefined): Promise<ResultStorage> {
  const settings = currentSettings();
  if (settings.resultsS3 !== undefined) return envS3(settings.resultsS3);
  if (client !== undefined) {
    const id = await serverDefaultBlockId(client);
    if (id !== null) return storageForBlockDocument(client, id);
  }
  return LOCAL;
}

const LOCAL = new LocalFileSystem();

let envS3Cache: { key: string; storage: S3Bucket } | undefined;
function envS3(s3: NonNullable<ReturnType<typeof currentSettings>["resultsS3"]>): S3Bucket {
  const key = JSON.stringify(s3);
  if (envS3Cache?.key !== key) {
    envS3Cache = {
      key,
      storage: new S3Bucket({
        bucket: s3.bucket,
        ...(s3.folder !== undefined ? { folder: s3.folder } : {}),
        ...(s3.endpointUrl !== undefined ? { endpointUrl: s3.endpointUrl } : {}),
        ...(s3.region !== undefined ? { region: s3.region } : {}),
        ...(s3.forcePathStyle !== undefined ? { forcePathStyle: s3.forcePathStyle } : {}),
      }),
    };
  }
  return envS3Cache.storage;
}

/** How long the server's answer is reused: a process lives on after an admin changes the default. */
const SERVER_DEFAULT_TTL_MS = 30_000;
const serverDefaults = new WeakMap<BatonClient, { at: number; id: Promise<string | null> }>();
/** The server's default result storage block id; null when unset or when the server has no such route. */
function serverDefaultBlockId(client: BatonClient): Promise<string | null> {
  const cached = serverDefaults.get(client);
  if (cached !== undefined && Date.now() - cached.at < SERVER_DEFAULT_TTL_MS) return cached.id;
  const id = client
    .request<ServerDefaultResultStorage>("GET", "/admin/storage")
    .then((answer) => answer?.default_result_storage_block_id ?? null)
    .catch(() => null);
  serverDefaults.set(client, { at: Date.now(), id });
  return id;
}

const blockStorages = new Map<string, Promise<ResultStorage>>();
/** The storage a block document describes (`local-file-system` or `s3-bucket`), read from the server once per process. */
export function storageForBlockDocument(client: BatonClient | undefined, blockDocumentId: string): Promise<ResultStorage> {
  let found = blockStorages.get(blockDocumentId);
  if (found === undefined) {
    if (client === undefined) return Promise.reject(new InvalidOptionError("storage_block_id", `reading results from block document ${blockDocumentId} needs a server`));
    found = client.request<BlockDocument>("GET", `/block_documents/${blockDocumentId}?include_secrets=true`).then((doc) => storageFromBlock(doc));
    found.catch(() => blockStorages.delete(blockDocumentId));
    blockStorages.set(blockDocumentId, found);
  }
  return found;
}

/**
 * A block document as result storage. `local-file-system`: `basepath`. `s3-bucket`:
 * `bucket_name`, `bucket_folder`, and either top-level `endpoint_url`, `region_name`,
 * `aws_access_key_id`, `aws_secret_access_key`, `force_path_style`, or prefect-aws's nested
 * `credentials` (an `aws-credentials` document with `aws_client_parameters.endpoint_url`).
 */
export function storageFromBlock(doc: Pick<BlockDocument, "id" | "data" | "block_type">): ResultStorage {
  const slug = doc.block_type?.slug;
  const data = doc.data as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === "string" && v !== "" ? v : undefined);
  switch (slug) {
    case "local-file-system": {
      const basepath = str(data.basepath);
      return new LocalFileSystem({ ...(basepath !== undefined ? { basepath } : {}), blockDocumentId: doc.id });
    }
    case "s3-bucket": {
      const creds = (data.credentials !== null && typeof data.credentials === "object" ? data.credentials : {}) as Record<string, unknown>;
      const clientParams = (creds.aws_client_parameters ?? {}) as Record<string, unknown>;
      const accessKeyId = str(data.aws_access_key_id) ?? str(creds.aws_access_key_id);
      const secretAccessKey = str(data.aws_secret_access_key) ?? str(creds.aws_secret_access_key);
      const endpointUrl = str(data.endpoint_url) ?? str(clientParams.endpoint_url);
      const region = str(data.region_name) ?? str(creds.region_name);
      const folder = str(data.bucket_folder);
      return new S3Bucket({
        bucket: str(data.bucket_name) ?? "",
        ...(folder !== undefined ? { folder } : {}),
        ...(endpointUrl !== undefined ? { endpointUrl } : {}),
        ...(region !== undefined ? { region } : {}),
        ...(accessKeyId !== undefined && secretAccessKey !== undefined ? { credentials: { accessKeyId, secretAccessKey } } : {}),
        ...(typeof data.force_path_style === "boolean" ? { forcePathStyle: data.force_path_style } : {}),
        blockDocumentId: doc.id,
      });
    }
    default:
      throw new InvalidOptionError("result storage block", `block document ${doc.id} is of type '${String(slug)}'; result storage can be a 'local-file-system' or 's3-bucket' block`);
  }
}
