import { z } from "zod";
import { Id } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";

/**
 * A persisted result's metadata (Prefect 3's `ResultRecordMetadata`): where the record is
 * (`storage_key` in the storage of block document `storage_block_id`, or the reader's default
 * storage when null), until when it is valid as a cache entry, and how its value was
 * serialized. It is the `data` of a COMPLETED state whose result was persisted, and the
 * `metadata` of the record itself.
 */
export const ResultRecordMetadata = lazySchema(() =>
  z.looseObject({
    storage_key: z.string().min(1, "must not be empty"),
    expiration: z.string().nullable().default(null),
    serializer: z.looseObject({ type: z.string().min(1, "must not be empty") }),
    prefect_version: z.string().optional(),
    storage_block_id: z.string().nullable().default(null),
  }));
export type ResultRecordMetadata = z.infer<typeof ResultRecordMetadata>;

/** A stored result record: its metadata and the value as its serializer wrote it (text). */
export const ResultRecord = lazySchema(() =>
  z.looseObject({
    metadata: ResultRecordMetadata,
    result: z.string(),
  }));
export type ResultRecord = z.infer<typeof ResultRecord>;

/** `GET|PUT /api/admin/storage`: the server's default result storage block. */
export const ServerDefaultResultStorage = lazySchema(() =>
  z.object({
    default_result_storage_block_id: Id.nullable(),
  }));
export type ServerDefaultResultStorage = z.infer<typeof ServerDefaultResultStorage>;

export const ServerDefaultResultStorageUpdate = lazySchema(() =>
  z.object({
    default_result_storage_block_id: Id,
  }));
export type ServerDefaultResultStorageUpdate = z.infer<typeof ServerDefaultResultStorageUpdate>;
