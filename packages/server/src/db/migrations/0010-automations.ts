import type { DialectOps } from "../dialect.js";

/**
 * Automations and the state of their triggers, kept in the database so that a restart loses
 * nothing: the open bucket of each event trigger (per `for_each` key), the child firings a
 * compound or sequence trigger has collected so far, and the resources automations relate to.
 * Inbound webhooks (`POST /hooks/{slug}`) live here too.
 */
export function up(d: DialectOps): string[] {
  const { id: ID, json: JSON, timestamp: TS, bool: BOOL } = d.types;
  return [
    `CREATE TABLE automation (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      name TEXT NOT NULL,
      description TEXT NOT NULL,
      enabled ${BOOL} NOT NULL,
      tags ${JSON} NOT NULL,
      trigger ${JSON} NOT NULL,
      actions ${JSON} NOT NULL,
      actions_on_trigger ${JSON} NOT NULL,
      actions_on_resolve ${JSON} NOT NULL
    )`,
    `CREATE INDEX ix_automation_name ON automation (name)`,
    `CREATE TABLE automation_related_resource (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      automation_id ${ID} NOT NULL REFERENCES automation(id) ON DELETE CASCADE,
      resource_id TEXT NOT NULL,
      automation_owned_by_resource ${BOOL} NOT NULL DEFAULT 0,
      UNIQUE (automation_id, resource_id)
    )`,
    `CREATE INDEX ix_automation_related_resource_resource ON automation_related_resource (resource_id)`,
    // One open window per trigger and for_each key (Prefect's automation_bucket).
    `CREATE TABLE automation_bucket (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      automation_id ${ID} NOT NULL REFERENCES automation(id) ON DELETE CASCADE,
      trigger_id ${ID} NOT NULL,
      bucketing_key TEXT NOT NULL,
      last_event ${JSON},
      bucket_start ${TS} NOT NULL,
      bucket_end ${TS} NOT NULL,
      count INTEGER NOT NULL,
      last_operation TEXT,
      triggered_at ${TS},
      UNIQUE (automation_id, trigger_id, bucketing_key)
    )`,
    `CREATE INDEX ix_automation_bucket_end ON automation_bucket (bucket_end)`,
    // What each child of a compound/sequence trigger fired, until the parent fires or it ages out.
    `CREATE TABLE composite_trigger_child_firing (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      automation_id ${ID} NOT NULL REFERENCES automation(id) ON DELETE CASCADE,
      parent_trigger_id ${ID} NOT NULL,
      child_trigger_id ${ID} NOT NULL,
      child_firing_id ${ID} NOT NULL,
      child_fired_at ${TS} NOT NULL,
      child_firing ${JSON} NOT NULL,
      UNIQUE (automation_id, parent_trigger_id, child_trigger_id)
    )`,
    `CREATE TABLE webhook (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      name TEXT NOT NULL,
      description TEXT NOT NULL,
      enabled ${BOOL} NOT NULL,
      template TEXT NOT NULL,
      slug TEXT NOT NULL UNIQUE,
      secret TEXT
    )`,
  ];
}
