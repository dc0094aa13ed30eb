import type { BlockSchema, BlockSchemaFilter, BlockType } from "@baton/core";
import type { Selectable } from "kysely";
import type { Database, Executor } from "../database.js";
import { fromJson, newId, toJson } from "../json.js";
import type { BlockSchemaTable } from "../schema.js";
import { blockSchemaConditions } from "./block-filters.js";
import { readBlockTypesByIds } from "./block-types.js";
import { pageLimit } from "./paging.js";

function blockSchemaFromRow(row: Selectable<BlockSchemaTable>, blockType: BlockType | undefined): BlockSchema {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    checksum: row.checksum,
    fields: fromJson(row.fields, {}),
    block_type_id: row.block_type_id,
    block_type: blockType ?? null,
    capabilities: fromJson(row.capabilities, []),
    version: row.version,
  };
}

async function withTypes(db: Executor, rows: Selectable<BlockSchemaTable>[]): Promise<BlockSchema[]> {
  const types = await readBlockTypesByIds(db, rows.map((r) => r.block_type_id));
  return rows.map((r) => blockSchemaFromRow(r, types.get(r.block_type_id)));
}

export interface NewBlockSchema {
  fields: Record<string, unknown>;
  block_type_id: string;
  capabilities: string[];
  version: string;
  checksum: string;
}

/** Inserts the schema, or returns the one with the same checksum and version (`created: false`). */
export async function createBlockSchema(db: Executor, input: NewBlockSchema): Promise<{ schema: BlockSchema; created: boolean }> {
  const now = new Date().toISOString();
  const inserted = await db
    .insertInto("block_schema")
    .values({
      id: newId(),
      created: now,
      updated: now,
      checksum: input.checksum,
      fields: toJson(input.fields),
      block_type_id: input.block_type_id,
      capabilities: toJson(input.capabilities),
      version: input.version,
    })
    .onConflict((oc) => oc.columns(["checksum", "version"]).doNothing())
    .returningAll()
    .executeTakeFirst();
  if (inserted) return { schema: (await withTypes(db, [inserted]))[0]!, created: true };
  const existing = await readBlockSchemaByChecksum(db, input.checksum, input.version);
  if (!existing) throw new Error(`block schema ${input.checksum} vanished while it was being created`);
  return { schema: existing, created: false };
}

export async function readBlockSchema(db: Executor, id: string): Promise<BlockSchema | undefined> {
  const row = await db.selectFrom("block_schema").selectAll().where("id", "=", id).executeTakeFirst();
  return row && (await withTypes(db, [row]))[0];
}

export async function readBlockSchemasByIds(db: Executor, ids: readonly string[]): Promise<Map<string, BlockSchema>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom("block_schema").selectAll().where("id", "in", [...new Set(ids)]).execute();
  return new Map((await withTypes(db, rows)).map((s) => [s.id, s]));
}

/** The schema with this checksum: of this version, or the newest when no version is given. */
export async function readBlockSchemaByChecksum(db: Executor, checksum: string, version?: string): Promise<BlockSchema | undefined> {
  let query = db.selectFrom("block_schema").selectAll().where("checksum", "=", checksum);
  if (version !== undefined) query = query.where("version", "=", version);
  const row = await query.orderBy("created", "desc").orderBy("id", "desc").limit(1).executeTakeFirst();
  return row && (await withTypes(db, [row]))[0];
}

export async function deleteBlockSchema(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom("block_schema").where("id", "=", id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Newest first, as Prefect lists them. */
export async function filterBlockSchemas(
  db: Database,
  body: { block_schemas?: BlockSchemaFilter | null | undefined; limit?: number | null | undefined; offset: number },
): Promise<BlockSchema[]> {
  const rows = await db.kysely
    .selectFrom("block_schema")
    .selectAll()
    .where(blockSchemaConditions(db.dialect, body.block_schemas))
    .orderBy("created", "desc")
    .orderBy("id", "desc")
    .limit(pageLimit(body.limit))
    .offset(body.offset)
    .execute();
  return withTypes(db.kysely, rows);
}

/** Every capability some schema declares, sorted. */
export async function readBlockCapabilities(db: Executor): Promise<string[]> {
  const rows = await db.selectFrom("block_schema").select("capabilities").distinct().execute();
  return [...new Set(rows.flatMap((r) => fromJson<string[]>(r.capabilities, [])))].sort();
}
