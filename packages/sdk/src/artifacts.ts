import { ARTIFACT_KEY_PATTERN, type Artifact, type JsonValue } from "@baton/core";
import { currentStore } from "./context.js";
import { InvalidOptionError } from "./errors.js";
import { withClient } from "./session.js";

/**
 * Artifacts as Prefect's SDK makes them: each helper stores its content in `data` the way
 * Prefect's does (a table as JSON text, a link as markdown, progress as a number, an image as
 * its URL) and attaches the artifact to the flow run and task run it is created in. A key
 * groups versions: the newest artifact of a key is its latest. Each returns the artifact's id.
 */

export interface ArtifactOptions {
  /** Lowercase letters, numbers and dashes; artifacts sharing a key are versions of one artifact. */
  key?: string;
  /** Markdown shown with the artifact. */
  description?: string;
}

/** A table: rows as objects, columns as an object of lists, or rows as lists. */
export type TableData = Array<Record<string, unknown>> | Record<string, unknown[]> | unknown[][];

function checkKey(key: string | undefined): void {
  if (key !== undefined && !ARTIFACT_KEY_PATTERN.test(key)) {
    throw new InvalidOptionError("key", `Artifact key '${key}' must only contain lowercase letters, numbers, and dashes`);
  }
}

/** The runs an artifact made here belongs to: the current task run and its flow run, or the current flow run. */
function runIds(): { flow_run_id: string | null; task_run_id: string | null } {
  const store = currentStore();
  if (store?.task) return { flow_run_id: store.task.taskRun.flow_run_id ?? null, task_run_id: store.task.taskRun.id };
  return { flow_run_id: store?.flow?.flowRun.id ?? null, task_run_id: null };
}

async function create(type: string, data: JsonValue, options: ArtifactOptions): Promise<string> {
  checkKey(options.key);
  const body = { key: options.key ?? null, type, description: options.description ?? null, data, ...runIds() };
  const artifact = await withClient((client) => client.request<Artifact>("POST", "/artifacts/", body));
  return artifact.id;
}

/**
 * A markdown artifact.
 *
 * @example
 * import { createMarkdownArtifact, flow } from "@baton/sdk";
 * const report = flow(async function report() {
 *   await createMarkdownArtifact("# Done\n12 rows loaded", { key: "load-report" });
 * });
 */
export function createMarkdownArtifact(markdown: string, options: ArtifactOptions = {}): Promise<string> {
  return create("markdown", markdown, options);
}

/**
 * A table artifact; its data is the table as JSON text (NaN and Infinity become null), as Prefect stores it.
 *
 * @example
 * await createTableArtifact([{ city: "Oslo", temp: 4 }, { city: "Lima", temp: 19 }], { key: "weather" });
 */
export function createTableArtifact(table: TableData, options: ArtifactOptions = {}): Promise<string> {
  if (table === null || typeof table !== "object") {
    return Promise.reject(new InvalidOptionError("table", "must be a list of rows (objects or lists) or an object of columns"));
  }
  return create("table", JSON.stringify(table), options);
}

/**
 * A link artifact: stored as markdown `[text](link)`, as Prefect's are (type "markdown").
 *
 * @example
 * await createLinkArtifact("https://example.com/report.html", { linkText: "the report", key: "report-link" });
 */
export function createLinkArtifact(link: string, options: ArtifactOptions & { linkText?: string } = {}): Promise<string> {
  return create("markdown", `[${options.linkText ?? link}](${link})`, options);
}

function checkProgress(progress: number): void {
  if (typeof progress !== "number" || !Number.isFinite(progress) || progress < 0 || progress > 100) {
    throw new InvalidOptionError("progress", `must be a number from 0 to 100, got ${String(progress)}`);
  }
}

/**
 * A progress artifact (0 to 100); move it on with `updateProgressArtifact`.
 *
 * @example
 * const id = await createProgressArtifact(0, { key: "import-progress" });
 * await updateProgressArtifact(id, 50);
 */
export async function createProgressArtifact(progress: number, options: ArtifactOptions = {}): Promise<string> {
  checkProgress(progress);
  return create("progress", progress, options);
}

/** Sets a progress artifact's value (and description, when given). */
export async function updateProgressArtifact(artifactId: string, progress: number, description?: string): Promise<void> {
  checkProgress(progress);
  const body = { data: progress, ...(description === undefined ? {} : { description }) };
  await withClient((client) => client.request("PATCH", `/artifacts/${encodeURIComponent(artifactId)}`, body));
}

/**
 * An image artifact: its data is the image's URL.
 *
 * @example
 * await createImageArtifact("https://example.com/chart.png", { key: "daily-chart" });
 */
export function createImageArtifact(imageUrl: string, options: ArtifactOptions = {}): Promise<string> {
  return create("image", imageUrl, options);
}
