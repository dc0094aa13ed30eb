
/**
 * Table shapes as Kysely sees them. JSON columns travel as text (both drivers are set up to
 * hand JSON back as a string), timestamps as ISO strings in UTC, booleans as 0/1 integers, so
 * one query and one row mapper serve SQLite and PostgreSQL alike.
 */
type Json = string;
type Timestamp = string;
type Bool = number;

export interface FlowTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  tags: Json;
  labels: Json;
}

export interface RunColumns {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  state_id: string | null;
  state_type: string | null;
  state_name: string | null;
  state_timestamp: Timestamp | null;
  /** The current state as JSON, so reading a run is one row. History is in the state tables. */
  state: Json | null;
  run_count: number;
  expected_start_time: Timestamp | null;
  next_scheduled_start_time: Timestamp | null;
  start_time: Timestamp | null;
  end_time: Timestamp | null;
  total_run_time: number;
  empirical_policy: Json;
  tags: Json;
  labels: Json;
}

export interface FlowRunTable extends RunColumns {
  flow_id: string;
  deployment_id: string | null;
  deployment_version: string | null;
  work_queue_id: string | null;
  work_queue_name: string | null;
  work_pool_id: string | null;
  work_pool_name: string | null;
  flow_version: string | null;
  parameters: Json;
  idempotency_key: string | null;
  context: Json;
  parent_task_run_id: string | null;
  auto_scheduled: Bool;
  infrastructure_document_id: string | null;
  infrastructure_pid: string | null;
  created_by: Json | null;
  job_variables: Json | null;
  /** When the run's process last said it is alive (a `prefect.flow-run.heartbeat` event). */
  last_heartbeat: Timestamp | null;
}

export interface TaskRunTable extends RunColumns {
  flow_run_id: string | null;
  task_key: string;
  dynamic_key: string;
  cache_key: string | null;
  cache_expiration: Timestamp | null;
  task_version: string | null;
  task_inputs: Json;
  flow_run_run_count: number;
}

export interface StateTable {
  id: string;
  created: Timestamp;
  run_id: string;
  type: string;
  name: string | null;
  timestamp: Timestamp;
  message: string | null;
  data: Json | null;
  state_details: Json;
}

export interface TaskRunStateCacheTable {
  id: string;
  created: Timestamp;
  cache_key: string;
  cache_expiration: Timestamp | null;
  task_run_state_id: string;
}

export interface DeploymentTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  flow_id: string;
  version: string | null;
  description: string | null;
  paused: Bool;
  concurrency_limit: number | null;
  concurrency_options: Json | null;
  job_variables: Json;
  parameters: Json;
  tags: Json;
  labels: Json;
  work_queue_name: string | null;
  work_queue_id: string | null;
  work_pool_name: string | null;
  last_polled: Timestamp | null;
  parameter_openapi_schema: Json | null;
  enforce_parameter_schema: Bool;
  path: string | null;
  pull_steps: Json | null;
  entrypoint: string | null;
  storage_document_id: string | null;
  infrastructure_document_id: string | null;
  created_by: Json | null;
  updated_by: Json | null;
  status: string | null;
}

export interface DeploymentScheduleTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  deployment_id: string;
  schedule: Json;
  active: Bool;
  max_scheduled_runs: number | null;
  parameters: Json;
  slug: string | null;
}

export interface LogTable {
  id: string;
  created: Timestamp;
  name: string;
  level: number;
  message: string;
  timestamp: Timestamp;
  flow_run_id: string | null;
  task_run_id: string | null;
}

export interface WorkPoolTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  description: string | null;
  type: string;
  base_job_template: Json;
  is_paused: Bool;
  concurrency_limit: number | null;
  default_queue_id: string | null;
  status: string | null;
  last_polled: Timestamp | null;
  storage_configuration: Json | null;
}

export interface WorkQueueTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  description: string | null;
  is_paused: Bool;
  concurrency_limit: number | null;
  priority: number;
  work_pool_id: string;
  last_polled: Timestamp | null;
  status: string | null;
}

export interface WorkerTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  work_pool_id: string;
  last_heartbeat_time: Timestamp | null;
  heartbeat_interval_seconds: number | null;
  status: string;
}

export interface EventTable {
  id: string;
  occurred: Timestamp;
  received: Timestamp;
  event: string;
  resource_id: string;
  resource: Json;
  related: Json;
  payload: Json;
  follows: string | null;
}

export interface ConfigurationTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  key: string;
  value: Json;
}

export interface SavedSearchTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  filters: Json;
}

export interface VariableTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  value: Json | null;
  tags: Json;
}

export interface ArtifactColumns {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  type: string | null;
  description: string | null;
  data: Json | null;
  metadata_: Json | null;
  flow_run_id: string | null;
  task_run_id: string | null;
}

export interface ArtifactTable extends ArtifactColumns {
  key: string | null;
}

export interface ArtifactCollectionTable extends ArtifactColumns {
  key: string;
  latest_id: string;
}

export interface FlowRunInputTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  flow_run_id: string;
  key: string;
  /** JSON text, stored as sent. */
  value: string;
  sender: string | null;
}

export interface BlockTypeTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  slug: string;
  logo_url: string | null;
  documentation_url: string | null;
  description: string | null;
  code_example: string | null;
  is_protected: Bool;
}

export interface BlockSchemaTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  checksum: string;
  fields: Json;
  block_type_id: string;
  capabilities: Json;
  version: string;
}

export interface BlockDocumentTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  /** The data as JSON, encrypted (AES-256-GCM) so a dump of the table shows no secret. */
  data: string;
  block_schema_id: string;
  block_type_id: string;
  block_type_name: string | null;
  is_anonymous: Bool;
}

export interface BlockDocumentReferenceTable {
  id: string;
  created: Timestamp;
  name: string;
  parent_block_document_id: string;
  reference_block_document_id: string;
}

export interface MigrationTable {
  version: number;
  name: string;
  applied_at: Timestamp;
}

export interface ConcurrencyLimitV2Table {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  active: Bool;
  name: string;
  limit: number;
  /** Real numbers: a rate limit's slots leak away continuously. */
  active_slots: number;
  denied_slots: number;
  slot_decay_per_second: number;
  avg_slot_occupancy_seconds: number;
  /** Epoch seconds at which `active_slots` and `denied_slots` were last brought up to date. */
  slots_at: number;
}

export interface ConcurrencyLeaseTable {
  id: string;
  created: Timestamp;
  expiration: Timestamp;
  /** JSON array of the global limits' ids the lease holds slots of. */
  resource_ids: Json;
  slots: number;
  holder: Json | null;
}

export interface TagConcurrencyLimitTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  tag: string;
  concurrency_limit: number;
}

export interface TagConcurrencySlotTable {
  limit_id: string;
  task_run_id: string;
  created: Timestamp;
}

export interface AutomationTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  description: string;
  enabled: Bool;
  tags: Json;
  trigger: Json;
  actions: Json;
  actions_on_trigger: Json;
  actions_on_resolve: Json;
}

export interface AutomationRelatedResourceTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  automation_id: string;
  resource_id: string;
  automation_owned_by_resource: Bool;
}

export interface AutomationBucketTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  automation_id: string;
  trigger_id: string;
  /** The for_each label values, as a JSON array of strings. */
  bucketing_key: string;
  last_event: Json | null;
  bucket_start: Timestamp;
  bucket_end: Timestamp;
  count: number;
  last_operation: string | null;
  triggered_at: Timestamp | null;
}

export interface CompositeTriggerChildFiringTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  automation_id: string;
  parent_trigger_id: string;
  child_trigger_id: string;
  child_firing_id: string;
  child_fired_at: Timestamp;
  child_firing: Json;
}

/** A trigger that fired and has not resolved (migration 0012). */
export interface AutomationTriggerStateTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  automation_id: string;
  trigger_id: string;
  /** The for_each label values, as a JSON array of strings (`[]` for composite triggers). */
  bucketing_key: string;
  triggered_at: Timestamp;
  resolve_at: Timestamp | null;
  /** The latest firing that put it in the Triggered state. */
  firing: Json;
}

export interface WebhookTable {
  id: string;
  created: Timestamp;
  updated: Timestamp;
  name: string;
  description: string;
  enabled: Bool;
  template: string;
  slug: string;
  secret: string | null;
}

export interface DB {
  flow: FlowTable;
  flow_run: FlowRunTable;
  flow_run_state: StateTable;
  task_run: TaskRunTable;
  task_run_state: StateTable;
  task_run_state_cache: TaskRunStateCacheTable;
  deployment: DeploymentTable;
  deployment_schedule: DeploymentScheduleTable;
  log: LogTable;
  work_pool: WorkPoolTable;
  work_queue: WorkQueueTable;
  worker: WorkerTable;
  event: EventTable;
  saved_search: SavedSearchTable;
  configuration: ConfigurationTable;
  flow_run_input: FlowRunInputTable;
  block_type: BlockTypeTable;
  block_schema: BlockSchemaTable;
  block_document: BlockDocumentTable;
  block_document_reference: BlockDocumentReferenceTable;
  baton_migration: MigrationTable;
  variable: VariableTable;
  artifact: ArtifactTable;
  artifact_collection: ArtifactCollectionTable;
  concurrency_limit_v2: ConcurrencyLimitV2Table;
  concurrency_lease: ConcurrencyLeaseTable;
  concurrency_limit: TagConcurrencyLimitTable;
  concurrency_limit_slot: TagConcurrencySlotTable;
  automation: AutomationTable;
  automation_related_resource: AutomationRelatedResourceTable;
  automation_bucket: AutomationBucketTable;
  composite_trigger_child_firing: CompositeTriggerChildFiringTable;
  automation_trigger_state: AutomationTriggerStateTable;
  webhook: WebhookTable;
}

