import { ConflictError, type Variable, type VariableCreate, type VariableFilter, type VariableSort, type VariableUpdate } from "@baton/core";
import { sql, type Selectable } from "kysely";
import type { Database, Executor } from "../database.js";
import type { DialectOps } from "../dialect.js";
import { anyOf, combine, type Cond } from "../filters.js";
import { fromJson, newId, toJson } from "../json.js";
import type { VariableTable } from "../schema.js";
import { pageLimit } from "./paging.js";

export function variableFromRow(row: Selectable<VariableTable>): Variable {
  return {
    id: row.id,
    created: row.created,
    updated: row.updated,
    name: row.name,
    value: fromJson(row.value, null),
    tags: fromJson(row.tags, []),
  };
}

function duplicateName(name: string): ConflictError {
  return new ConflictError(`A variable with the name '${name}' already exists`);
}

/** A unique-constraint violation on either database (the only unique key besides the id is the name). */
function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "23505" || code === "SQLITE_CONSTRAINT_UNIQUE";
}

/** Creates a variable; a name already taken is a ConflictError (409), as in Prefect. */
export async function createVariable(db: Executor, input: VariableCreate): Promise<Variable> {
  const now = new Date().toISOString();
  const row = await db
    .insertInto("variable")
    .values({ id: newId(), created: now, updated: now, name: input.name, value: toJson(input.value), tags: toJson(input.tags) })
    .onConflict((oc) => oc.column("name").doNothing())
    .returningAll()
    .executeTakeFirst();
  if (!row) throw duplicateName(input.name);
  return variableFromRow(row);
}

export async function readVariable(db: Executor, id: string): Promise<Variable | undefined> {
  const row = await db.selectFrom("variable").selectAll().where("id", "=", id).executeTakeFirst();
  return row && variableFromRow(row);
}

export async function readVariableByName(db: Executor, name: string): Promise<Variable | undefined> {
  const row = await db.selectFrom("variable").selectAll().where("name", "=", name).executeTakeFirst();
  return row && variableFromRow(row);
}

/** Updates the variable found by id or name; false when there is none. A rename onto a taken name is a ConflictError. */
export async function updateVariable(db: Executor, by: { id: string } | { name: string }, patch: VariableUpdate): Promise<boolean> {
  const set: Partial<Selectable<VariableTable>> = { updated: new Date().toISOString() };
  if (patch.name != null) set.name = patch.name;
  if (patch.value !== undefined) set.value = toJson(patch.value);
  if (patch.tags != null) set.tags = toJson(patch.tags);
  try {
    const result = await db
      .updateTable("variable")
      .set(set)
      .where("id" in by ? "id" : "name", "=", "id" in by ? by.id : by.name)
      .executeTakeFirst();
    return result.numUpdatedRows > 0n;
  } catch (error) {
    if (patch.name != null && isUniqueViolation(error)) throw duplicateName(patch.name);
    throw error;
  }
}

export async function deleteVariable(db: Executor, by: { id: string } | { name: string }): Promise<boolean> {
  const result = await db
    .deleteFrom("variable")
    .where("id" in by ? "id" : "name", "=", "id" in by ? by.id : by.name)
    .executeTakeFirst();
  return result.numDeletedRows > 0n;
}

/**
 * A case-insensitive match in which `%` and `_` are SQL wildcards, as the contract's `like_`
 * on variable names and artifact keys says (`my-artifact-%`); the text is wrapped in `%...%`
 * as Prefect does, so a plain word is a substring match.
 */
export function likeWithWildcards(d: DialectOps, column: string, text: string): Cond {
  const pattern = `%${text}%`;
  return d.name === "postgres" ? sql<boolean>`${sql.ref(column)} ILIKE ${pattern}` : sql<boolean>`${sql.ref(column)} LIKE ${pattern}`;
}

function variableConditions(d: DialectOps, f: VariableFilter | null | undefined): Cond | null {
  if (!f) return null;
  const tags = f.tags
    ? combine(f.tags.operator, [
        f.tags.all_ != null ? d.jsonArrayContainsAll("variable.tags", f.tags.all_) : null,
        f.tags.is_null_ == null ? null : f.tags.is_null_ ? d.jsonArrayIsEmpty("variable.tags") : sql<boolean>`NOT ${d.jsonArrayIsEmpty("variable.tags")}`,
      ])
    : null;
  return combine(f.operator, [
    anyOf("variable.id", f.id?.any_),
    anyOf("variable.name", f.name?.any_),
    f.name?.like_ != null ? likeWithWildcards(d, "variable.name", f.name.like_) : null,
    tags,
  ]);
}

const VARIABLE_SORTS = {
  CREATED_DESC: ["created", "desc"],
  UPDATED_DESC: ["updated", "desc"],
  NAME_ASC: ["name", "asc"],
  NAME_DESC: ["name", "desc"],
} as const;

export async function filterVariables(
  db: Database,
  filter: VariableFilter | null | undefined,
  page: { sort: VariableSort; limit?: number | null | undefined; offset: number },
): Promise<Variable[]> {
  const [column, direction] = VARIABLE_SORTS[page.sort];
  let query = db.kysely.selectFrom("variable").selectAll();
  const cond = variableConditions(db.dialect, filter);
  if (cond) query = query.where(cond);
  // Ids are time-ordered, so within one millisecond the same direction keeps creation order.
  query = query.orderBy(column, direction).orderBy("id", direction).limit(pageLimit(page.limit)).offset(page.offset);
  return (await query.execute()).map(variableFromRow);
}

export async function countVariables(db: Database, filter: VariableFilter | null | undefined): Promise<number> {
  let query = db.kysely.selectFrom("variable").select((eb) => eb.fn.countAll<number>().as("n"));
  const cond = variableConditions(db.dialect, filter);
  if (cond) query = query.where(cond);
  return Number((await query.executeTakeFirstOrThrow()).n);
}
