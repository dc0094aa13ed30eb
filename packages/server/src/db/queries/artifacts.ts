import type {
  Artifact,
  ArtifactCollection,
  ArtifactCollectionFilter,
  ArtifactCreate,
  ArtifactFilter,
  ArtifactRelatedCriteria,
  ArtifactSort,
  ArtifactUpdate,
} from "@baton/core";
import { sql, type Selectable } from "kysely";
import type { Database, Executor } from "../database.js";
import type { DialectOps } from "../dialect.js";
import { anyOf, combine, deploymentConditions, flowConditions, flowRunConditions, noneOf, taskRunConditions, type Cond } from "../filters.js";
import { fromJson, newId, toJson } from "../json.js";
import type { ArtifactColumns, ArtifactCollectionTable, ArtifactTable } from "../schema.js";
import { pageLimit } from "./paging.js";
import { likeWithWildcards } from "./variables.js";

/**
 * Artifacts, and per key the latest of them (`artifact_collection`), as Prefect keeps them:
 * creating an artifact with a key makes it its key's latest; updating the latest updates the
 * collection's copy; deleting the latest makes the newest remaining one of that key latest,
 * or removes the key's collection row when none is left.
 */

function shared(row: Selectable<ArtifactColumns>) {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    type: row.type,
    description: row.description,
    data: fromJson<unknown>(row.data, null) as Artifact["data"],
    metadata_: fromJson<Record<string, string> | null>(row.metadata_, null),
    flow_run_id: row.flow_run_id,
    task_run_id: row.task_run_id,
  };
}

export function artifactFromRow(row: Selectable<ArtifactTable>): Artifact {
  return { ...shared(row), key: row.key };
}

export function artifactCollectionFromRow(row: Selectable<ArtifactCollectionTable>): ArtifactCollection {
  return { ...shared(row), key: row.key, latest_id: row.latest_id };
}

/** The fields the collection copies from its latest artifact. */
function copiedFields(row: Selectable<ArtifactTable>) {
  return {
    type: row.type,
    description: row.description,
    data: row.data,
    metadata_: row.metadata_,
    flow_run_id: row.flow_run_id,
    task_run_id: row.task_run_id,
  };
}

export function createArtifact(db: Database, input: ArtifactCreate): Promise<Artifact> {
  return db.write(async (trx) => {
    const now = new Date().toISOString();
    const row = await trx
      .insertInto("artifact")
      .values({
        id: newId(),
        created: now,
        updated: now,
        key: input.key ?? null,
        type: input.type ?? null,
        description: input.description ?? null,
        data: toJson(input.data ?? null),
        metadata_: input.metadata_ == null ? null : toJson(input.metadata_),
        flow_run_id: input.flow_run_id ?? null,
        task_run_id: input.task_run_id ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    if (row.key !== null) {
      const fields = copiedFields(row);
      await trx
        .insertInto("artifact_collection")
        .values({ id: newId(), created: now, updated: now, key: row.key, latest_id: row.id, ...fields })
        // Ids are time-ordered: of versions created at the same time, the newest stays latest
        // whichever transaction commits last.
        .onConflict((oc) =>
          oc
            .column("key")
            .doUpdateSet({ updated: now, latest_id: row.id, ...fields })
            .where(sql<boolean>`artifact_collection.latest_id < ${row.id}`),
        )
        .execute();
    }
    return artifactFromRow(row);
  });
}

export async function readArtifact(db: Executor, id: string): Promise<Artifact | undefined> {
  const row = await db.selectFrom("artifact").selectAll().where("id", "=", id).executeTakeFirst();
  return row && artifactFromRow(row);
}

/** The latest artifact of `key` (the one its collection row points at). */
export async function readLatestArtifact(db: Executor, key: string): Promise<Artifact | undefined> {
  const row = await db
    .selectFrom("artifact")
    .selectAll("artifact")
    .where("artifact.id", "=", (eb) => eb.selectFrom("artifact_collection").select("latest_id").where("artifact_collection.key", "=", key))
    .executeTakeFirst();
  return row && artifactFromRow(row);
}

/** Updates the artifact, and its key's collection when it is the latest; false when there is no such artifact. */
export function updateArtifact(db: Database, id: string, patch: ArtifactUpdate): Promise<boolean> {
  return db.write(async (trx) => {
    const set: { updated: string; data?: string; description?: string | null; metadata_?: string | null } = { updated: new Date().toISOString() };
    if (patch.data !== undefined) set.data = toJson(patch.data);
    if (patch.description !== undefined) set.description = patch.description;
    if (patch.metadata_ !== undefined) set.metadata_ = patch.metadata_ === null ? null : toJson(patch.metadata_);
    const result = await trx.updateTable("artifact").set(set).where("id", "=", id).executeTakeFirst();
    if (result.numUpdatedRows === 0n) return false;
    await trx.updateTable("artifact_collection").set(set).where("latest_id", "=", id).execute();
    return true;
  });
}

/** Deletes the artifact; when it was its key's latest, the newest one left of that key becomes latest. */
export function deleteArtifact(db: Database, id: string): Promise<boolean> {
  return db.write(async (trx) => {
    const artifact = await trx.selectFrom("artifact").select(["id", "key"]).where("id", "=", id).executeTakeFirst();
    if (!artifact) return false;
    if (artifact.key !== null) {
      let collection = trx.selectFrom("artifact_collection").select(["id", "latest_id"]).where("key", "=", artifact.key);
      // A version created meanwhile waits for this transaction instead of being overwritten by it.
      if (db.dialect.supportsRowLocks) collection = collection.forUpdate();
      const current = await collection.executeTakeFirst();
      if (current?.latest_id === id) {
        const previous = await trx
          .selectFrom("artifact")
          .selectAll()
          .where("key", "=", artifact.key)
          .where("id", "!=", id)
          .orderBy("created", "desc")
          .orderBy("id", "desc")
          .limit(1)
          .executeTakeFirst();
        if (previous) {
          await trx
            .updateTable("artifact_collection")
            .set({ updated: new Date().toISOString(), latest_id: previous.id, ...copiedFields(previous) })
            .where("id", "=", current.id)
            .execute();
        } else {
          await trx.deleteFrom("artifact_collection").where("id", "=", current.id).execute();
        }
      }
    }
    await trx.deleteFrom("artifact").where("id", "=", id).execute();
    return true;
  });
}

type Target = "artifact" | "artifact_collection";

function ownConditions(d: DialectOps, table: Target, f: ArtifactFilter | ArtifactCollectionFilter | null | undefined): Cond | null {
  if (!f) return null;
  const column = (name: string) => `${table}.${name}`;
  const key = f.key;
  return combine(f.operator, [
    "id" in f ? anyOf(column("id"), f.id?.any_) : null,
    "latest_id" in f ? anyOf(column("latest_id"), f.latest_id?.any_) : null,
    anyOf(column("key"), key?.any_),
    key?.like_ != null ? likeWithWildcards(d, column("key"), key.like_) : null,
    key?.exists_ == null ? null : key.exists_ ? sql<boolean>`${sql.ref(column("key"))} IS NOT NULL` : sql<boolean>`${sql.ref(column("key"))} IS NULL`,
    anyOf(column("flow_run_id"), f.flow_run_id?.any_),
    anyOf(column("task_run_id"), f.task_run_id?.any_),
    anyOf(column("type"), f.type?.any_),
    noneOf(column("type"), f.type?.not_any_),
  ]);
}

/** The artifact's own filter, then the run-related ones through its flow run and task run. */
function conditions(
  d: DialectOps,
  table: Target,
  own: ArtifactFilter | ArtifactCollectionFilter | null | undefined,
  related: ArtifactRelatedCriteria,
): Cond[] {
  const out: Cond[] = [];
  const mine = ownConditions(d, table, own);
  if (mine) out.push(mine);
  const sub = (column: string, select: string, cond: Cond | null) => {
    if (cond) out.push(sql<boolean>`${sql.ref(`${table}.${column}`)} IN (SELECT ${sql.raw(select)} WHERE ${cond})`);
  };
  sub("flow_run_id", "flow_run.id FROM flow_run", flowRunConditions(d, related.flow_runs));
  sub("task_run_id", "task_run.id FROM task_run", taskRunConditions(d, related.task_runs));
  sub("flow_run_id", "flow_run.id FROM flow_run JOIN flow ON flow.id = flow_run.flow_id", flowConditions(d, related.flows));
  sub("flow_run_id", "flow_run.id FROM flow_run JOIN deployment ON deployment.id = flow_run.deployment_id", deploymentConditions(d, related.deployments));
  return out;
}

const ARTIFACT_SORTS = {
  CREATED_DESC: ["created", "desc"],
  UPDATED_DESC: ["updated", "desc"],
  ID_DESC: ["id", "desc"],
  KEY_DESC: ["key", "desc"],
  KEY_ASC: ["key", "asc"],
} as const;

interface Page {
  sort: ArtifactSort;
  limit?: number | null | undefined;
  offset: number;
}

export async function filterArtifacts(db: Database, own: ArtifactFilter | null | undefined, related: ArtifactRelatedCriteria, page: Page): Promise<Artifact[]> {
  const [column, direction] = ARTIFACT_SORTS[page.sort];
  let query = db.kysely.selectFrom("artifact").selectAll();
  for (const cond of conditions(db.dialect, "artifact", own, related)) query = query.where(cond);
  // Ids are time-ordered: versions of one key list newest first under KEY_ASC and KEY_DESC alike.
  query = query.orderBy(column, direction).orderBy("id", "desc").limit(pageLimit(page.limit)).offset(page.offset);
  return (await query.execute()).map(artifactFromRow);
}

export async function countArtifacts(db: Database, own: ArtifactFilter | null | undefined, related: ArtifactRelatedCriteria): Promise<number> {
  let query = db.kysely.selectFrom("artifact").select((eb) => eb.fn.countAll<number>().as("n"));
  for (const cond of conditions(db.dialect, "artifact", own, related)) query = query.where(cond);
  return Number((await query.executeTakeFirstOrThrow()).n);
}

export async function filterArtifactCollections(
  db: Database,
  own: ArtifactCollectionFilter | null | undefined,
  related: ArtifactRelatedCriteria,
  page: Page,
): Promise<ArtifactCollection[]> {
  const [column, direction] = ARTIFACT_SORTS[page.sort];
  let query = db.kysely.selectFrom("artifact_collection").selectAll();
  for (const cond of conditions(db.dialect, "artifact_collection", own, related)) query = query.where(cond);
  query = query.orderBy(column, direction).orderBy("id", "desc").limit(pageLimit(page.limit)).offset(page.offset);
  return (await query.execute()).map(artifactCollectionFromRow);
}

export async function countArtifactCollections(db: Database, own: ArtifactCollectionFilter | null | undefined, related: ArtifactRelatedCriteria): Promise<number> {
  let query = db.kysely.selectFrom("artifact_collection").select((eb) => eb.fn.countAll<number>().as("n"));
  for (const cond of conditions(db.dialect, "artifact_collection", own, related)) query = query.where(cond);
  return Number((await query.executeTakeFirstOrThrow()).n);
}
