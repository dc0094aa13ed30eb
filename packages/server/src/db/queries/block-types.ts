import type { BlockSchemaFilter, BlockType, BlockTypeCreate, BlockTypeFilter, BlockTypeUpdate } from "@baton/core";
import { sql, type Selectable } from "kysely";
import type { Database, Executor } from "../database.js";
import { newId } from "../json.js";
import type { BlockTypeTable } from "../schema.js";
import { blockSchemaConditions, blockTypeConditions } from "./block-filters.js";
import { pageLimit } from "./paging.js";

export function blockTypeFromRow(row: Selectable<BlockTypeTable>): BlockType {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    slug: row.slug,
    logo_url: row.logo_url,
    documentation_url: row.documentation_url,
    description: row.description,
    code_example: row.code_example,
    is_protected: Boolean(row.is_protected),
  };
}

/** Inserts a block type; undefined when its name or slug is taken. */
export async function createBlockType(db: Executor, input: BlockTypeCreate, isProtected = false): Promise<BlockType | undefined> {
  const now = new Date().toISOString();
  const row = await db
    .insertInto("block_type")
    .values({
      id: newId(),
      created: now,
      updated: now,
      name: input.name,
      slug: input.slug,
      logo_url: input.logo_url ?? null,
      documentation_url: input.documentation_url ?? null,
      description: input.description ?? null,
      code_example: input.code_example ?? null,
      is_protected: isProtected ? 1 : 0,
    })
    .onConflict((oc) => oc.doNothing())
    .returningAll()
    .executeTakeFirst();
  return row && blockTypeFromRow(row);
}

/** Creates or refreshes a type by slug (system types, installed at every start). */
export async function upsertBlockType(db: Executor, input: BlockTypeCreate, isProtected: boolean): Promise<BlockType> {
  const now = new Date().toISOString();
  const row = await db
    .insertInto("block_type")
    .values({ id: newId(), created: now, updated: now, name: input.name, slug: input.slug, description: input.description ?? null, is_protected: isProtected ? 1 : 0 })
    .onConflict((oc) => oc.column("slug").doUpdateSet({ description: input.description ?? null, is_protected: isProtected ? 1 : 0 }))
    .returningAll()
    .executeTakeFirstOrThrow();
  return blockTypeFromRow(row);
}

export async function readBlockType(db: Executor, id: string): Promise<BlockType | undefined> {
  const row = await db.selectFrom("block_type").selectAll().where("id", "=", id).executeTakeFirst();
  return row && blockTypeFromRow(row);
}

export async function readBlockTypeBySlug(db: Executor, slug: string): Promise<BlockType | undefined> {
  const row = await db.selectFrom("block_type").selectAll().where("slug", "=", slug).executeTakeFirst();
  return row && blockTypeFromRow(row);
}

export async function readBlockTypesByIds(db: Executor, ids: readonly string[]): Promise<Map<string, BlockType>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom("block_type").selectAll().where("id", "in", [...new Set(ids)]).execute();
  return new Map(rows.map((r) => [r.id, blockTypeFromRow(r)]));
}

export async function updateBlockType(db: Executor, id: string, patch: BlockTypeUpdate): Promise<boolean> {
  const set = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined)) as Partial<BlockTypeTable>;
  const result = await db
    .updateTable("block_type")
    .set({ ...set, updated: new Date().toISOString() })
    .where("id", "=", id)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deleteBlockType(db: Executor, id: string): Promise<boolean> {
  const result = await db.deleteFrom("block_type").where("id", "=", id).executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/** Block types by name, narrowed by their own filter and by the schemas they have. */
export async function filterBlockTypes(
  db: Database,
  body: { block_types?: BlockTypeFilter | null | undefined; block_schemas?: BlockSchemaFilter | null | undefined; limit?: number | null | undefined; offset: number },
): Promise<BlockType[]> {
  let query = db.kysely.selectFrom("block_type").selectAll().where(blockTypeConditions(db.dialect, body.block_types));
  if (body.block_schemas) {
    query = query.where(
      sql<boolean>`EXISTS (SELECT 1 FROM block_schema WHERE block_schema.block_type_id = block_type.id AND ${blockSchemaConditions(db.dialect, body.block_schemas)})`,
    );
  }
  const rows = await query.orderBy("name", "asc").limit(pageLimit(body.limit)).offset(body.offset).execute();
  return rows.map(blockTypeFromRow);
}
