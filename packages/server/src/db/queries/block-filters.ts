import type { BlockDocumentFilter, BlockSchemaFilter, BlockTypeFilter } from "@baton/core";
import { sql, type RawBuilder, type SqlBool } from "kysely";
import type { DialectOps } from "../dialect.js";

type Condition = RawBuilder<SqlBool>;

/** Joins conditions with AND or OR; no condition is true. */
export function combine(conditions: Condition[], operator: "and_" | "or_" = "and_"): Condition {
  if (conditions.length === 0) return sql<SqlBool>`1 = 1`;
  return sql<SqlBool>`(${sql.join(conditions, sql.raw(operator === "or_" ? " OR " : " AND "))})`;
}

function anyOf(column: string, values: readonly string[] | null | undefined): Condition[] {
  if (values == null) return [];
  if (values.length === 0) return [sql<SqlBool>`1 = 0`];
  return [sql<SqlBool>`${sql.ref(column)} IN (${sql.join(values)})`];
}

/** The conditions of a `BlockTypeFilter` on the `block_type` table. */
export function blockTypeConditions(d: DialectOps, filter: BlockTypeFilter | null | undefined): Condition {
  if (!filter) return combine([]);
  const conditions: Condition[] = [...anyOf("block_type.slug", filter.slug?.any_)];
  if (filter.name?.like_ != null) conditions.push(d.containsText("block_type.name", filter.name.like_));
  return combine(conditions);
}

/** The conditions of a `BlockSchemaFilter` on the `block_schema` table. */
export function blockSchemaConditions(d: DialectOps, filter: BlockSchemaFilter | null | undefined): Condition {
  if (!filter) return combine([]);
  const conditions: Condition[] = [
    ...anyOf("block_schema.id", filter.id?.any_),
    ...anyOf("block_schema.block_type_id", filter.block_type_id?.any_),
    ...anyOf("block_schema.version", filter.version?.any_),
  ];
  if (filter.block_capabilities?.all_ != null) conditions.push(d.jsonArrayContainsAll("block_schema.capabilities", filter.block_capabilities.all_));
  return combine(conditions, filter.operator);
}

/** Every filter of the block document routes on the `block_document` table; anonymous documents are left out unless asked for. */
export function blockDocumentConditions(
  d: DialectOps,
  filters: { block_documents?: BlockDocumentFilter | null | undefined; block_types?: BlockTypeFilter | null | undefined; block_schemas?: BlockSchemaFilter | null | undefined },
): Condition {
  const documents = filters.block_documents ?? { operator: "and_" as const, is_anonymous: { eq_: false } };
  const own: Condition[] = [
    ...anyOf("block_document.id", documents.id?.any_),
    ...anyOf("block_document.block_type_id", documents.block_type_id?.any_),
    ...anyOf("block_document.name", documents.name?.any_),
  ];
  if (documents.name?.like_ != null) own.push(d.containsText("block_document.name", documents.name.like_));
  if (documents.is_anonymous?.eq_ != null) own.push(sql<SqlBool>`block_document.is_anonymous = ${documents.is_anonymous.eq_ ? 1 : 0}`);
  const conditions = [combine(own, documents.operator)];
  if (filters.block_types) {
    conditions.push(sql<SqlBool>`EXISTS (SELECT 1 FROM block_type WHERE block_type.id = block_document.block_type_id AND ${blockTypeConditions(d, filters.block_types)})`);
  }
  if (filters.block_schemas) {
    conditions.push(sql<SqlBool>`EXISTS (SELECT 1 FROM block_schema WHERE block_schema.id = block_document.block_schema_id AND ${blockSchemaConditions(d, filters.block_schemas)})`);
  }
  return combine(conditions);
}
