import type { DialectOps } from "../dialect.js";

/**
 * Blocks: types, their schemas, documents (data encrypted at rest, see blocks/encryption.ts)
 * and the references between documents. Deleting a type deletes its schemas and documents.
 */
export function up(d: DialectOps): string[] {
  const { id: ID, json: JSON, timestamp: TS, bool: BOOL } = d.types;
  return [
    `CREATE TABLE block_type (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      name TEXT NOT NULL UNIQUE,
      slug TEXT NOT NULL UNIQUE,
      logo_url TEXT,
      documentation_url TEXT,
      description TEXT,
      code_example TEXT,
      is_protected ${BOOL} NOT NULL DEFAULT 0
    )`,
    `CREATE TABLE block_schema (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      checksum TEXT NOT NULL,
      fields ${JSON} NOT NULL,
      block_type_id ${ID} NOT NULL REFERENCES block_type(id) ON DELETE CASCADE,
      capabilities ${JSON} NOT NULL,
      version TEXT NOT NULL,
      UNIQUE (checksum, version)
    )`,
    `CREATE INDEX ix_block_schema_block_type ON block_schema (block_type_id)`,
    `CREATE TABLE block_document (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      name TEXT NOT NULL,
      data TEXT NOT NULL,
      block_schema_id ${ID} NOT NULL REFERENCES block_schema(id) ON DELETE CASCADE,
      block_type_id ${ID} NOT NULL REFERENCES block_type(id) ON DELETE CASCADE,
      block_type_name TEXT,
      is_anonymous ${BOOL} NOT NULL DEFAULT 0,
      UNIQUE (block_type_id, name)
    )`,
    `CREATE INDEX ix_block_document_name ON block_document (name)`,
    `CREATE TABLE block_document_reference (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      name TEXT NOT NULL,
      parent_block_document_id ${ID} NOT NULL REFERENCES block_document(id) ON DELETE CASCADE,
      reference_block_document_id ${ID} NOT NULL REFERENCES block_document(id) ON DELETE CASCADE,
      UNIQUE (parent_block_document_id, name)
    )`,
    `CREATE INDEX ix_block_document_reference_child ON block_document_reference (reference_block_document_id)`,
  ];
}
