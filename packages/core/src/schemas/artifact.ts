import { z } from "zod";
import { Id } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";
import { DeploymentFilter, FlowFilter, FlowRunFilter, MAX_FILTER_LIMIT, MAX_FILTER_VALUES, TaskRunFilter } from "./filters.js";
import type { JsonValue } from "./variable.js";

/** What Prefect keeps of a metadata value: longer ones are cut to this many characters and "...". */
export const MAX_ARTIFACT_METADATA_VALUE_LENGTH = 500;

export const ARTIFACT_KEY_PATTERN = /^[a-z0-9-]+$/;

/** An artifact key as Prefect allows it: lowercase letters, numbers and dashes. */
export const ArtifactKey = lazySchema(() =>
  z
    .string()
    .min(1, "must not be empty")
    .max(5000)
    .regex(ARTIFACT_KEY_PATTERN, "must only contain lowercase letters, numbers, and dashes"));

const Json = lazySchema(() => z.custom<JsonValue>(() => true));

/** String keys and values; a value longer than 500 characters is cut, as Prefect's server does. */
const ArtifactMetadata = lazySchema(() =>
  z
    .record(z.string(), z.string())
    .transform((metadata) =>
      Object.fromEntries(
        Object.entries(metadata).map(([key, value]) => [
          key,
          value.length > MAX_ARTIFACT_METADATA_VALUE_LENGTH ? `${value.slice(0, MAX_ARTIFACT_METADATA_VALUE_LENGTH)}...` : value,
        ]),
      )));

const artifactFields = () => ({
  id: Id,
  created: z.string(),
  updated: z.string(),
  type: z.string().nullable(),
  description: z.string().nullable(),
  data: Json,
  metadata_: z.record(z.string(), z.string()).nullable(),
  flow_run_id: Id.nullable(),
  task_run_id: Id.nullable(),
});

export const Artifact = lazySchema(() => z.object({ ...artifactFields(), key: z.string().nullable() }));
export type Artifact = z.infer<typeof Artifact>;

/** The latest artifact of one key: `latest_id` is that artifact, the other fields are copied from it. */
export const ArtifactCollection = lazySchema(() => z.object({ ...artifactFields(), key: z.string(), latest_id: Id }));
export type ArtifactCollection = z.infer<typeof ArtifactCollection>;

export const ArtifactCreate = lazySchema(() =>
  z.strictObject({
    key: ArtifactKey.nullish(),
    type: z.string().max(5000).nullish(),
    description: z.string().nullish(),
    data: Json.optional(),
    metadata_: ArtifactMetadata.nullish(),
    flow_run_id: Id.nullish(),
    task_run_id: Id.nullish(),
  }));
export type ArtifactCreate = z.infer<typeof ArtifactCreate>;

/** Absent fields are left as they are. */
export const ArtifactUpdate = lazySchema(() =>
  z.strictObject({
    data: Json.optional(),
    description: z.string().nullish(),
    metadata_: ArtifactMetadata.nullish(),
  }));
export type ArtifactUpdate = z.infer<typeof ArtifactUpdate>;

const Operator = lazySchema(() => z.enum(["and_", "or_"]).default("and_"));
const ids = lazySchema(() => z.array(Id).max(MAX_FILTER_VALUES).nullish());
const strings = lazySchema(() => z.array(z.string()).max(MAX_FILTER_VALUES).nullish());

const artifactCriteria = lazySchema(() => ({
  operator: Operator,
  key: z.strictObject({ any_: strings, like_: z.string().nullish(), exists_: z.boolean().nullish() }).nullish(),
  flow_run_id: z.strictObject({ any_: ids }).nullish(),
  task_run_id: z.strictObject({ any_: ids }).nullish(),
  type: z.strictObject({ any_: strings, not_any_: strings }).nullish(),
}));

export const ArtifactFilter = lazySchema(() => z.strictObject({ ...artifactCriteria, id: z.strictObject({ any_: ids }).nullish() }));
export type ArtifactFilter = z.infer<typeof ArtifactFilter>;

export const ArtifactCollectionFilter = lazySchema(() =>
  z.strictObject({ ...artifactCriteria, latest_id: z.strictObject({ any_: ids }).nullish() }));
export type ArtifactCollectionFilter = z.infer<typeof ArtifactCollectionFilter>;

export const ArtifactSort = lazySchema(() => z.enum(["CREATED_DESC", "UPDATED_DESC", "ID_DESC", "KEY_DESC", "KEY_ASC"]));
export type ArtifactSort = z.infer<typeof ArtifactSort>;

/** The run-related filters an artifact read is narrowed by, through the artifact's flow run and task run. */
const relatedCriteria = lazySchema(() => ({
  flow_runs: FlowRunFilter.nullish(),
  task_runs: TaskRunFilter.nullish(),
  flows: FlowFilter.nullish(),
  deployments: DeploymentFilter.nullish(),
}));
export interface ArtifactRelatedCriteria {
  flow_runs?: FlowRunFilter | null | undefined;
  task_runs?: TaskRunFilter | null | undefined;
  flows?: FlowFilter | null | undefined;
  deployments?: DeploymentFilter | null | undefined;
}

const page = lazySchema(() => ({
  sort: ArtifactSort.default("ID_DESC"),
  limit: z.number().int().min(0).max(MAX_FILTER_LIMIT).nullish(),
  offset: z.number().int().min(0).max(2147483647).default(0),
}));

export const ArtifactFilterBody = lazySchema(() => z.strictObject({ ...relatedCriteria, ...page, artifacts: ArtifactFilter.nullish() }));
export type ArtifactFilterBody = z.infer<typeof ArtifactFilterBody>;
export const ArtifactCountBody = lazySchema(() => z.strictObject({ ...relatedCriteria, artifacts: ArtifactFilter.nullish() }));
export type ArtifactCountBody = z.infer<typeof ArtifactCountBody>;
export const ArtifactCollectionFilterBody = lazySchema(() =>
  z.strictObject({ ...relatedCriteria, ...page, artifacts: ArtifactCollectionFilter.nullish() }));
export type ArtifactCollectionFilterBody = z.infer<typeof ArtifactCollectionFilterBody>;
export const ArtifactCollectionCountBody = lazySchema(() => z.strictObject({ ...relatedCriteria, artifacts: ArtifactCollectionFilter.nullish() }));
export type ArtifactCollectionCountBody = z.infer<typeof ArtifactCollectionCountBody>;
