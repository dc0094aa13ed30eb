import { clearDefaultResultStorageFor } from "./configuration.js";
import {
  ConflictError,
  InvalidInputError,
  ObjectNotFoundError,
  type BlockDocument,
  type BlockDocumentCountBody,
  type BlockDocumentCreate,
  type BlockDocumentSort,
  type BlockDocumentUpdate,
  type BlockSchema,
} from "@baton/core";
import { sql, type Selectable } from "kysely";
import type { BlockEncryption } from "../../blocks/encryption.js";
import { keepObfuscatedSecrets, obfuscateSecrets, secretFieldsOf } from "../../blocks/secrets.js";
import type { Database, Executor } from "../database.js";
import { newId } from "../json.js";
import type { BlockDocumentTable } from "../schema.js";
import { blockDocumentConditions } from "./block-filters.js";
import { readBlockSchemasByIds } from "./block-schemas.js";
import { readBlockType, readBlockTypesByIds } from "./block-types.js";
import { pageLimit } from "./paging.js";

/** What the block document queries need besides the database: the at-rest cipher. */
export interface BlockStore {
  db: Database;
  encryption: BlockEncryption;
}

type Row = Selectable<BlockDocumentTable>;

/** How deep references are followed: a document referring to itself through others stops here. */
const MAX_REFERENCE_DEPTH = 20;

/**
 * Splits data into what is stored and the references: a top-level value
 * `{"$ref": {"block_document_id": ID}}` names another document (Prefect keeps references
 * only at the top level too).
 */
function separateReferences(data: Record<string, unknown>): { plain: Record<string, unknown>; references: Array<[string, string]> } {
  const plain: Record<string, unknown> = {};
  const references: Array<[string, string]> = [];
  for (const [key, value] of Object.entries(data)) {
    if (typeof value === "object" && value !== null && !Array.isArray(value) && "$ref" in value) {
      const ref = (value as { $ref: unknown }).$ref;
      const id = typeof ref === "object" && ref !== null ? (ref as { block_document_id?: unknown }).block_document_id : undefined;
      if (typeof id !== "string" || !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id)) {
        throw new InvalidInputError(`body.data.${key}`, "a block reference needs $ref.block_document_id, a UUID");
      }
      references.push([key, id.toLowerCase()]);
    } else {
      plain[key] = value;
    }
  }
  return { plain, references };
}

async function checkReferences(db: Executor, references: Array<[string, string]>): Promise<void> {
  if (references.length === 0) return;
  const found = new Set((await db.selectFrom("block_document").select("id").where("id", "in", references.map(([, id]) => id)).execute()).map((r) => r.id));
  for (const [key, id] of references) {
    if (!found.has(id)) throw new InvalidInputError(`body.data.${key}`, `refers to block document ${id}, which does not exist`);
  }
}

async function insertReferences(db: Executor, parentId: string, references: Array<[string, string]>): Promise<void> {
  if (references.length === 0) return;
  const now = new Date().toISOString();
  await db
    .insertInto("block_document_reference")
    .values(references.map(([name, id]) => ({ id: newId(), created: now, name, parent_block_document_id: parentId, reference_block_document_id: id })))
    .execute();
}

export async function createBlockDocument(store: BlockStore, input: BlockDocumentCreate): Promise<BlockDocument> {
  const { db, encryption } = store;
  const id = await db.write(async (trx) => {
    const blockType = await readBlockType(trx, input.block_type_id);
    if (!blockType) throw new ObjectNotFoundError("Block type", input.block_type_id);
    const schema = await trx.selectFrom("block_schema").select(["id", "block_type_id"]).where("id", "=", input.block_schema_id).executeTakeFirst();
    if (!schema) throw new ObjectNotFoundError("Block schema", input.block_schema_id);
    if (schema.block_type_id !== blockType.id) throw new InvalidInputError("body.block_schema_id", "the block schema belongs to another block type");
    // Anonymous documents are named for the system, as Prefect names them.
    const name = input.is_anonymous && !input.name ? `anonymous-${crypto.randomUUID()}` : input.name!;
    const taken = await trx.selectFrom("block_document").select("id").where("block_type_id", "=", blockType.id).where("name", "=", name).executeTakeFirst();
    if (taken) throw new ConflictError("Block already exists");
    const { plain, references } = separateReferences(input.data);
    await checkReferences(trx, references);
    const now = new Date().toISOString();
    const documentId = newId();
    await trx
      .insertInto("block_document")
      .values({
        id: documentId,
        created: now,
        updated: now,
        name,
        data: encryption.encrypt(JSON.stringify(plain)),
        block_schema_id: schema.id,
        block_type_id: blockType.id,
        block_type_name: blockType.name,
        is_anonymous: input.is_anonymous ? 1 : 0,
      })
      .execute();
    await insertReferences(trx, documentId, references);
    return documentId;
  });
  return (await readBlockDocument(store, id, false))!;
}

export async function readBlockDocument(store: BlockStore, id: string, includeSecrets: boolean): Promise<BlockDocument | undefined> {
  const row = await store.db.kysely.selectFrom("block_document").selectAll().where("id", "=", id).executeTakeFirst();
  return row && (await hydrate(store, [row], includeSecrets))[0];
}

export async function readBlockDocumentByName(store: BlockStore, slug: string, name: string, includeSecrets: boolean): Promise<BlockDocument | undefined> {
  const row = await store.db.kysely
    .selectFrom("block_document")
    .innerJoin("block_type", "block_type.id", "block_document.block_type_id")
    .selectAll("block_document")
    .where("block_type.slug", "=", slug)
    .where("block_document.name", "=", name)
    .executeTakeFirst();
  return row && (await hydrate(store, [row], includeSecrets))[0];
}

export async function filterBlockDocuments(
  store: BlockStore,
  body: BlockDocumentCountBody & { sort: BlockDocumentSort; limit?: number | null | undefined; offset: number; include_secrets: boolean },
): Promise<BlockDocument[]> {
  let query = store.db.kysely.selectFrom("block_document").selectAll().where(blockDocumentConditions(store.db.dialect, body));
  switch (body.sort) {
    case "NAME_ASC":
      query = query.orderBy("name", "asc");
      break;
    case "NAME_DESC":
      query = query.orderBy("name", "desc");
      break;
    case "BLOCK_TYPE_AND_NAME_ASC":
      query = query.orderBy("block_type_name", "asc").orderBy("name", "asc");
      break;
  }
  const rows = await query.orderBy("id", "asc").limit(pageLimit(body.limit)).offset(body.offset).execute();
  return hydrate(store, rows, body.include_secrets);
}

export async function countBlockDocuments(db: Database, body: BlockDocumentCountBody): Promise<number> {
  const row = await db.kysely
    .selectFrom("block_document")
    .select(sql<number>`COUNT(*)`.as("n"))
    .where(blockDocumentConditions(db.dialect, body))
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

/** Deletes a document; if it was the server's default result storage, that setting is cleared with it. */
export async function deleteBlockDocument(db: Database, id: string): Promise<boolean> {
  return db.write(async (trx) => {
    const result = await trx.deleteFrom("block_document").where("id", "=", id).executeTakeFirst();
    if (result.numDeletedRows === 0n) return false;
    await clearDefaultResultStorageFor(trx, id);
    return true;
  });
}

/**
 * Prefect's update: with `merge_existing_data` (the default) the given top-level keys are laid
 * over the stored data, else the data is replaced; secrets sent back obfuscated keep their
 * stored value; references are replaced by those in the new data. A new `block_schema_id`
 * must be of the document's block type.
 */
export async function updateBlockDocument(store: BlockStore, id: string, patch: BlockDocumentUpdate): Promise<boolean> {
  const { encryption } = store;
  return store.db.write(async (trx) => {
    const row = await trx.selectFrom("block_document").selectAll().where("id", "=", id).executeTakeFirst();
    if (!row) return false;
    let schemaId = row.block_schema_id;
    if (patch.block_schema_id && patch.block_schema_id !== row.block_schema_id) {
      const proposed = await trx.selectFrom("block_schema").select(["id", "block_type_id"]).where("id", "=", patch.block_schema_id).executeTakeFirst();
      if (!proposed) throw new ObjectNotFoundError("Block schema", patch.block_schema_id);
      if (proposed.block_type_id !== row.block_type_id) {
        throw new InvalidInputError("body.block_schema_id", "Must migrate block document to a block schema of the same block type.");
      }
      schemaId = proposed.id;
    }
    const data = patch.data ?? (patch.merge_existing_data ? undefined : {});
    const set: Partial<BlockDocumentTable> = { updated: new Date().toISOString(), block_schema_id: schemaId };
    if (data !== undefined) {
      const current = JSON.parse(encryption.decrypt(row.data)) as Record<string, unknown>;
      const schema = await trx.selectFrom("block_schema").select("fields").where("id", "=", row.block_schema_id).executeTakeFirst();
      const secretFields = secretFieldsOf(schema ? (JSON.parse(schema.fields) as Record<string, unknown>) : undefined);
      const kept = keepObfuscatedSecrets(data, current, secretFields);
      const merged = patch.merge_existing_data ? { ...current, ...kept } : kept;
      const { plain, references } = separateReferences(merged);
      await checkReferences(trx, references);
      set.data = encryption.encrypt(JSON.stringify(plain));
      await trx.deleteFrom("block_document_reference").where("parent_block_document_id", "=", id).execute();
      await insertReferences(trx, id, references);
    }
    await trx.updateTable("block_document").set(set).where("id", "=", id).execute();
    return true;
  });
}

/** Rows to documents: data decrypted (secrets obfuscated unless asked for), schema, type and references filled in. */
async function hydrate(store: BlockStore, rows: Row[], includeSecrets: boolean, depth = 0): Promise<BlockDocument[]> {
  if (rows.length === 0) return [];
  const kysely = store.db.kysely;
  const [schemas, types, references] = await Promise.all([
    readBlockSchemasByIds(kysely, rows.map((r) => r.block_schema_id)),
    readBlockTypesByIds(kysely, rows.map((r) => r.block_type_id)),
    kysely.selectFrom("block_document_reference").selectAll().where("parent_block_document_id", "in", rows.map((r) => r.id)).orderBy("name").execute(),
  ]);
  const children = new Map<string, BlockDocument>();
  if (references.length > 0 && depth < MAX_REFERENCE_DEPTH) {
    const childRows = await kysely.selectFrom("block_document").selectAll().where("id", "in", [...new Set(references.map((r) => r.reference_block_document_id))]).execute();
    for (const child of await hydrate(store, childRows, includeSecrets, depth + 1)) children.set(child.id, child);
  }
  return rows.map((row) => {
    const schema: BlockSchema | undefined = schemas.get(row.block_schema_id);
    const stored = JSON.parse(store.encryption.decrypt(row.data)) as Record<string, unknown>;
    const data = includeSecrets ? stored : obfuscateSecrets(stored, secretFieldsOf(schema?.fields));
    const documentReferences: Record<string, Record<string, unknown>> = {};
    for (const reference of references) {
      if (reference.parent_block_document_id !== row.id) continue;
      const child = children.get(reference.reference_block_document_id);
      if (!child) continue;
      data[reference.name] = child.data;
      documentReferences[reference.name] = {
        block_document: {
          id: child.id,
          name: child.name,
          block_type: child.block_type,
          is_anonymous: child.is_anonymous,
          block_document_references: child.block_document_references,
        },
      };
    }
    return {
      id: row.id,
      created: row.created,
      updated: row.updated,
      name: row.name,
      data,
      block_schema_id: row.block_schema_id,
      block_schema: schema ?? null,
      block_type_id: row.block_type_id,
      block_type_name: row.block_type_name,
      block_type: types.get(row.block_type_id) ?? null,
      block_document_references: documentReferences,
      is_anonymous: Boolean(row.is_anonymous),
    };
  });
}
