import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createImageArtifact,
  createLinkArtifact,
  createMarkdownArtifact,
  createProgressArtifact,
  createTableArtifact,
  flow,
  InvalidOptionError,
  task,
  updateProgressArtifact,
  type Artifact,
} from "@baton/sdk";
import { startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

const read = (id: string) => t.client.request<Artifact>("GET", `/artifacts/${id}`);

describe("artifacts", () => {
  it("each helper stores its type and data as Prefect's SDK does", async () => {
    const table = await read(await createTableArtifact([{ a: 1, b: Number.NaN }, { a: 2, b: "x" }], { key: "sdk-table", description: "rows" }));
    expect(table).toMatchObject({ key: "sdk-table", type: "table", description: "rows", data: '[{"a":1,"b":null},{"a":2,"b":"x"}]' });
    const columns = await read(await createTableArtifact({ a: [1, 2], b: ["x", "y"] }));
    expect(columns.data).toBe('{"a":[1,2],"b":["x","y"]}');
    const markdown = await read(await createMarkdownArtifact("# Title", { key: "sdk-md" }));
    expect(markdown).toMatchObject({ type: "markdown", data: "# Title" });
    const link = await read(await createLinkArtifact("https://example.com/r", { linkText: "report" }));
    expect(link).toMatchObject({ type: "markdown", data: "[report](https://example.com/r)", key: null });
    const bareLink = await read(await createLinkArtifact("https://example.com/r"));
    expect(bareLink.data).toBe("[https://example.com/r](https://example.com/r)");
    const image = await read(await createImageArtifact("https://example.com/c.png", { key: "sdk-image" }));
    expect(image).toMatchObject({ type: "image", data: "https://example.com/c.png" });
    const progressId = await createProgressArtifact(0, { key: "sdk-progress" });
    expect((await read(progressId)).data).toBe(0);
    await updateProgressArtifact(progressId, 62.5, "most of it");
    expect(await read(progressId)).toMatchObject({ type: "progress", data: 62.5, description: "most of it" });
    // Outside any run, the artifact belongs to no run.
    expect(markdown).toMatchObject({ flow_run_id: null, task_run_id: null });
  });

  it("attaches to the flow run, and inside a task to the task run and its flow run", async () => {
    const inTask = task(async function publish() {
      return createMarkdownArtifact("from the task", { key: "sdk-ctx" });
    });
    const inFlow = flow(async function reporting() {
      const fromFlow = await createTableArtifact([[1, 2]], { key: "sdk-ctx" });
      const fromTask = await inTask();
      return { fromFlow, fromTask };
    });
    const outcome = await inFlow.run();
    if (!outcome.ok) throw outcome.error;
    const { fromFlow, fromTask } = outcome.result;
    const flowRunId = outcome.flowRun.id;
    expect(await read(fromFlow)).toMatchObject({ flow_run_id: flowRunId, task_run_id: null, type: "table" });
    const taskArtifact = await read(fromTask);
    expect(taskArtifact.flow_run_id).toBe(flowRunId);
    const taskRuns = await t.client.filterTaskRuns({ task_runs: { flow_run_id: { any_: [flowRunId] } } });
    expect(taskRuns.map((r) => r.id)).toEqual([taskArtifact.task_run_id]);
    // The task's artifact was created last, so it is the key's latest.
    expect((await t.client.request<Artifact>("GET", "/artifacts/sdk-ctx/latest")).id).toBe(fromTask);
  });

  it("refuses a bad key or progress before any request", async () => {
    await expect(createMarkdownArtifact("x", { key: "Bad_Key" })).rejects.toThrow(InvalidOptionError);
    await expect(createMarkdownArtifact("x", { key: "Bad_Key" })).rejects.toThrow(/lowercase letters, numbers, and dashes/);
    await expect(createProgressArtifact(101)).rejects.toThrow(/progress: must be a number from 0 to 100/);
    await expect(createProgressArtifact(-1)).rejects.toThrow(InvalidOptionError);
    await expect(updateProgressArtifact("00000000-0000-4000-8000-000000000000", Number.NaN)).rejects.toThrow(InvalidOptionError);
    await expect(createTableArtifact("rows" as never)).rejects.toThrow(/table: must be/);
    const count = await t.client.request<number>("POST", "/artifacts/count", { artifacts: { key: { any_: ["Bad_Key"] } } });
    expect(count).toBe(0);
  });
});
