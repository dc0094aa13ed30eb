import type { DialectOps } from "../dialect.js";

/**
 * The state of each trigger that has fired and not yet resolved (Prefect's TriggerState
 * Triggered), per automation, trigger and `for_each` key. A row exists only while the trigger
 * is Triggered: resolving deletes it, so the resolve actions run once, and a restart between
 * the firing and the resolution still resolves. `resolve_at` is when a Reactive trigger
 * resolves unless it fires again first; Proactive and composite triggers leave it NULL.
 */
export function up(d: DialectOps): string[] {
  const { id: ID, json: JSON, timestamp: TS } = d.types;
  return [
    `CREATE TABLE automation_trigger_state (
      id ${ID} PRIMARY KEY,
      created ${TS} NOT NULL,
      updated ${TS} NOT NULL,
      automation_id ${ID} NOT NULL REFERENCES automation(id) ON DELETE CASCADE,
      trigger_id ${ID} NOT NULL,
      bucketing_key TEXT NOT NULL,
      triggered_at ${TS} NOT NULL,
      resolve_at ${TS},
      firing ${JSON} NOT NULL,
      UNIQUE (automation_id, trigger_id, bucketing_key)
    )`,
    `CREATE INDEX ix_automation_trigger_state_resolve_at ON automation_trigger_state (resolve_at)`,
  ];
}
