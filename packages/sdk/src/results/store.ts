import { randomUUID } from "node:crypto";
import { PREFECT_SERVER_VERSION, ResultRecord, ResultRecordMetadata, type State } from "@baton/core";
import type { BatonClient } from "../client.js";
import { MissingResultError, PickleNotSupportedError, UnreadableResultRecordError } from "../errors.js";
import { resultFromState } from "./serializer.js";
import { knownSerializers, resolveSerializer, type Serializer } from "./serializers.js";
import { defaultResultStorage, storageForBlockDocument } from "./resolve.js";
import type { ResultStorage } from "./storage.js";

/**
 * Result records, as Prefect 3 writes them: one JSON document per result,
 *
 * ```json
 * {"metadata": {"storage_key": "…", "expiration": null, "serializer": {"type": "json"},
 *               "prefect_version": "3.4.0", "storage_block_id": null},
 *  "result": "<the value as its serializer wrote it>"}
 * ```
 *
 * stored at `storage_key` in a `ResultStorage`. The COMPLETED state of a run whose result is
 * persisted carries the metadata as its `data`, so any process that can reach the storage
 * (and knows the serializer) reads the value back.
 */

/** A record ready to be written: serialized now (so a value that cannot be is known at once), written later. */
export interface PreparedRecord {
  readonly metadata: ResultRecordMetadata;
  readonly bytes: Buffer;
  readonly storage: ResultStorage;
}

export function prepareRecord(
  value: unknown,
  options: { storage: ResultStorage; serializer: Serializer; key?: string | undefined; expiration?: string | null | undefined },
): PreparedRecord {
  const metadata: ResultRecordMetadata = {
    storage_key: options.key ?? randomUUID().replace(/-/g, ""),
    expiration: options.expiration ?? null,
    serializer: { type: options.serializer.type },
    prefect_version: PREFECT_SERVER_VERSION,
    storage_block_id: options.storage.blockDocumentId ?? null,
  };
  const result = options.serializer.dumps(value);
  const bytes = Buffer.from(JSON.stringify({ metadata, result }));
  return { metadata, bytes, storage: options.storage };
}

export async function writeRecord(record: PreparedRecord): Promise<ResultRecordMetadata> {
  await record.storage.writePath(record.metadata.storage_key, record.bytes);
  return record.metadata;
}

/** A record read back: its metadata and the deserialized value. */
export interface LoadedRecord {
  metadata: ResultRecordMetadata;
  value: unknown;
}

/**
 * The record at `key`, or `undefined` when there is none. A record past its `expiration` is
 * `undefined` too when `ignoreExpired` (cache lookups). Anything there that is not a readable
 * record throws `UnreadableResultRecordError`; a serializer this process does not know throws
 * `UnknownSerializerError`.
 */
export async function readRecord(storage: ResultStorage, key: string, options: { ignoreExpired?: boolean; now?: number } = {}): Promise<LoadedRecord | undefined> {
  const bytes = await storage.readPath(key);
  if (bytes === undefined) return undefined;
  let parsed: ResultRecord;
  try {
    const json = JSON.parse(bytes.toString("utf8")) as unknown;
    const checked = ResultRecord.safeParse(json);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      throw new Error(`not a result record (${issue?.path.join(".") || "record"}: ${issue?.message ?? "invalid"})`);
    }
    parsed = checked.data;
  } catch (error) {
    const reason = error instanceof SyntaxError ? "not JSON" : error instanceof Error ? error.message : String(error);
    throw new UnreadableResultRecordError(key, storage.describe(), reason, { cause: error });
  }
  const { metadata } = parsed;
  if (options.ignoreExpired && metadata.expiration !== null && Date.parse(metadata.expiration) <= (options.now ?? Date.now())) return undefined;
  let serializer: Serializer;
  try {
    serializer = resolveSerializer(metadata.serializer.type);
  } catch (error) {
    // Name the record too: a pickle record was written by Python Prefect, somewhere.
    if (error instanceof PickleNotSupportedError) throw new PickleNotSupportedError(metadata.serializer.type, knownSerializers(), { key, location: storage.describe() });
    throw error;
  }
  let value: unknown;
  try {
    value = serializer.loads(parsed.result);
  } catch (error) {
    throw new UnreadableResultRecordError(key, storage.describe(), `its result does not deserialize with '${serializer.type}': ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  return { metadata, value };
}

/** True when `data` (a state's) is a persisted result's metadata rather than an inline value. */
export function isResultReference(data: unknown): data is ResultRecordMetadata {
  if (data === null || typeof data !== "object" || Array.isArray(data)) return false;
  const d = data as Record<string, unknown>;
  return typeof d.storage_key === "string" && d.serializer !== null && typeof d.serializer === "object";
}

/** True when a COMPLETED state's result can be had here: inline JSON or a persisted record's reference. */
export function hasResult(state: Pick<State, "data"> | null | undefined): boolean {
  const data = state?.data as { type?: unknown } | null | undefined;
  return (data != null && typeof data === "object" && data.type === "json") || isResultReference(data);
}

/**
 * The value of a COMPLETED state: inline (`{"type": "json", "value": …}`), or read from the
 * storage its reference names (a block document's storage, fetched from the server with
 * `client`), else from `options.storage` (the storage the run was known to write to), else
 * this process's default storage.
 */
export async function readStateResult(
  state: Pick<State, "id" | "data" | "state_details">,
  client: BatonClient | undefined,
  options: { storage?: ResultStorage | undefined } = {},
): Promise<unknown> {
  const data = state.data;
  if (!isResultReference(data)) return resultFromState(state);
  const parsed = ResultRecordMetadata.safeParse(data);
  if (!parsed.success) throw new MissingResultError(state.id, `its result reference is malformed (${parsed.error.issues[0]?.message ?? "invalid"})`);
  const reference = parsed.data;
  const storage =
    reference.storage_block_id !== null ? await storageForBlockDocument(client, reference.storage_block_id) : (options.storage ?? (await defaultResultStorage(client)));
  const record = await readRecord(storage, reference.storage_key);
  if (record === undefined) {
    throw new MissingResultError(state.id, `no result record '${reference.storage_key}' in ${storage.describe()} (was it written on another machine, or to other storage?)`);
  }
  return record.value;
}
