import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Artifact, ArtifactCollection } from "@baton/core";
import { contractProperties } from "./contract-fields.js";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface Invalid {
  exception_message: string;
}

for (const dialect of DIALECTS) {
  describe(`artifacts on ${dialect}`, () => {
    let server: TestServer;
    let flowRunId: string;
    let otherFlowRunId: string;
    let taskRunId: string;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      const flow = (await server.call<{ id: string }>("POST", "/flows/", { name: "artifact-flow", tags: ["af"] })).body;
      flowRunId = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.id, name: "art-run", tags: ["art"] })).body.id;
      const other = (await server.call<{ id: string }>("POST", "/flows/", { name: "other-flow" })).body;
      otherFlowRunId = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: other.id, name: "other-run" })).body.id;
      taskRunId = (
        await server.call<{ id: string }>("POST", "/task_runs/", { flow_run_id: flowRunId, task_key: "t", dynamic_key: "0", name: "art-task" })
      ).body.id;
    });
    afterAll(() => server.close());

    async function create(body: Record<string, unknown>): Promise<Artifact> {
      const { status, body: artifact } = await server.call<Artifact>("POST", "/artifacts/", body);
      expect(status, JSON.stringify(artifact)).toBe(201);
      return artifact;
    }
    const latest = (key: string) => server.call<Artifact>("GET", `/artifacts/${key}/latest`);
    async function latestIds(body: Record<string, unknown>): Promise<string[]> {
      const { status, body: found } = await server.call<ArtifactCollection[]>("POST", "/artifacts/latest/filter", body);
      expect(status, JSON.stringify(found)).toBe(200);
      return found.map((c) => c.latest_id);
    }
    async function ids(body: Record<string, unknown>): Promise<string[]> {
      const { status, body: found } = await server.call<Artifact[]>("POST", "/artifacts/filter", body);
      expect(status, JSON.stringify(found)).toBe(200);
      return found.map((a) => a.id);
    }

    it("creates an artifact with every field, reads it by id, answers with the contract's fields", async () => {
      const artifact = await create({
        key: "crud-one",
        type: "markdown",
        description: "the *first*",
        data: "# Hello",
        metadata_: { owner: "ada", long: "x".repeat(600) },
        flow_run_id: flowRunId,
        task_run_id: taskRunId,
      });
      expect(artifact).toMatchObject({ key: "crud-one", type: "markdown", description: "the *first*", data: "# Hello", flow_run_id: flowRunId, task_run_id: taskRunId });
      // Prefect cuts metadata values at 500 characters.
      expect(artifact.metadata_).toEqual({ owner: "ada", long: `${"x".repeat(500)}...` });
      const read = await server.call<Artifact>("GET", `/artifacts/${artifact.id}`);
      expect(read.status).toBe(200);
      expect(read.body).toEqual(artifact);
      const expected = contractProperties("Artifact");
      if (expected) expect(Object.keys(artifact).sort()).toEqual(expected);
      const collection = (await server.call<ArtifactCollection[]>("POST", "/artifacts/latest/filter", { artifacts: { key: { any_: ["crud-one"] } } })).body;
      const expectedCollection = contractProperties("ArtifactCollection");
      if (expectedCollection) expect(Object.keys(collection[0]!).sort()).toEqual(expectedCollection);
      const bare = await create({});
      expect(bare).toMatchObject({ key: null, type: null, data: null, metadata_: null, flow_run_id: null, task_run_id: null });
    });

    it("tracks the latest version per key across creates, updates and deletes", async () => {
      const v1 = await create({ key: "versions", type: "progress", data: 10 });
      const v2 = await create({ key: "versions", type: "progress", data: 20 });
      const v3 = await create({ key: "versions", type: "table", data: "[]", flow_run_id: flowRunId });
      expect((await latest("versions")).body.id).toBe(v3.id);
      let [collection] = (await server.call<ArtifactCollection[]>("POST", "/artifacts/latest/filter", { artifacts: { key: { any_: ["versions"] } } })).body;
      expect(collection).toMatchObject({ key: "versions", latest_id: v3.id, type: "table", data: "[]", flow_run_id: flowRunId });

      // Updating an older version leaves the collection; updating the latest updates its copy.
      expect((await server.call("PATCH", `/artifacts/${v2.id}`, { data: 25 })).status).toBe(204);
      expect((await server.call<Artifact>("GET", `/artifacts/${v2.id}`)).body.data).toBe(25);
      expect((await server.call("PATCH", `/artifacts/${v3.id}`, { data: "[1]", description: "now" })).status).toBe(204);
      [collection] = (await server.call<ArtifactCollection[]>("POST", "/artifacts/latest/filter", { artifacts: { key: { any_: ["versions"] } } })).body;
      expect(collection).toMatchObject({ latest_id: v3.id, data: "[1]", description: "now" });

      // Deleting the latest makes the previous one latest, its fields copied.
      expect((await server.call("DELETE", `/artifacts/${v3.id}`)).status).toBe(204);
      expect((await latest("versions")).body).toMatchObject({ id: v2.id, data: 25 });
      [collection] = (await server.call<ArtifactCollection[]>("POST", "/artifacts/latest/filter", { artifacts: { key: { any_: ["versions"] } } })).body;
      expect(collection).toMatchObject({ latest_id: v2.id, type: "progress", data: 25, flow_run_id: null, description: null });
      // Deleting an older version changes nothing about the latest.
      expect((await server.call("DELETE", `/artifacts/${v1.id}`)).status).toBe(204);
      expect((await latest("versions")).body.id).toBe(v2.id);
      // Deleting the last one removes the key.
      expect((await server.call("DELETE", `/artifacts/${v2.id}`)).status).toBe(204);
      expect((await latest("versions")).status).toBe(404);
      expect((await server.call<number>("POST", "/artifacts/latest/count", { artifacts: { key: { any_: ["versions"] } } })).body).toBe(0);
      // A new version after that starts the key again.
      const v4 = await create({ key: "versions", data: 1 });
      expect((await latest("versions")).body.id).toBe(v4.id);
    });

    it("keeps the newest version latest when versions of one key are created at once", async () => {
      const versions = await Promise.all(Array.from({ length: 12 }, (_, i) => create({ key: "concurrent", data: i })));
      const newest = versions.map((v) => v.id).sort().at(-1);
      expect((await latest("concurrent")).body.id).toBe(newest);
      expect((await server.call<number>("POST", "/artifacts/latest/count", { artifacts: { key: { any_: ["concurrent"] } } })).body).toBe(1);
      // Deleting them all at once leaves no collection row behind and never a dangling latest.
      await Promise.all(versions.slice(0, 11).map((v) => server.call("DELETE", `/artifacts/${v.id}`)));
      const left = versions[11]!;
      expect((await latest("concurrent")).body.id).toBe(left.id);
      expect((await server.call("DELETE", `/artifacts/${left.id}`)).status).toBe(204);
      expect((await server.call<number>("POST", "/artifacts/latest/count", { artifacts: { key: { any_: ["concurrent"] } } })).body).toBe(0);
    });

    it("filters artifacts by key (any_, like_, exists_), type, flow run, task run and related runs; counts", async () => {
      const a = await create({ key: "flt-alpha", type: "markdown", flow_run_id: flowRunId, task_run_id: taskRunId });
      const b = await create({ key: "flt-beta", type: "table", flow_run_id: flowRunId });
      const c = await create({ key: "flt-alpha", type: "markdown", flow_run_id: otherFlowRunId });
      const keyless = await create({ type: "flt-none", flow_run_id: otherFlowRunId });
      const mine = { artifacts: { key: { like_: "flt-" } } };
      expect(await ids(mine)).toEqual([c.id, b.id, a.id]);
      expect(await ids({ ...mine, sort: "KEY_ASC" })).toEqual([c.id, a.id, b.id]);
      expect(await ids({ ...mine, sort: "KEY_DESC" })).toEqual([b.id, c.id, a.id]);
      expect(await ids({ ...mine, limit: 1, offset: 1 })).toEqual([b.id]);
      expect(await ids({ artifacts: { key: { like_: "FLT-%ta" } } })).toEqual([b.id]);
      expect(await ids({ artifacts: { key: { any_: ["flt-alpha"] } } })).toEqual([c.id, a.id]);
      expect(await ids({ artifacts: { key: { exists_: false }, type: { any_: ["flt-none"] } } })).toEqual([keyless.id]);
      expect(await ids({ artifacts: { key: { exists_: true, like_: "flt-" }, type: { not_any_: ["table"] } } })).toEqual([c.id, a.id]);
      expect(await ids({ artifacts: { key: { like_: "flt-" }, flow_run_id: { any_: [flowRunId] } } })).toEqual([b.id, a.id]);
      expect(await ids({ artifacts: { task_run_id: { any_: [taskRunId] }, key: { like_: "flt-" } } })).toEqual([a.id]);
      expect(await ids({ artifacts: { id: { any_: [b.id] } } })).toEqual([b.id]);
      expect(await ids({ ...mine, flow_runs: { name: { any_: ["other-run"] } } })).toEqual([c.id]);
      expect(await ids({ ...mine, flows: { name: { any_: ["artifact-flow"] } } })).toEqual([b.id, a.id]);
      expect(await ids({ ...mine, task_runs: { name: { any_: ["art-task"] } } })).toEqual([a.id]);
      expect((await server.call<number>("POST", "/artifacts/count", mine)).body).toBe(3);
      expect((await server.call<number>("POST", "/artifacts/count", { ...mine, flow_runs: { tags: { all_: ["art"] } } })).body).toBe(2);

      // The latest per key: flt-alpha's latest is c, in the other flow run.
      expect(await latestIds({ ...mine, sort: "KEY_ASC" })).toEqual([c.id, b.id]);
      expect(await latestIds({ ...mine, flow_runs: { name: { any_: ["art-run"] } } })).toEqual([b.id]);
      expect(await latestIds({ artifacts: { latest_id: { any_: [c.id, a.id] } } })).toEqual([c.id]);
      expect(await latestIds({ artifacts: { key: { like_: "flt-" }, type: { any_: ["table"] } } })).toEqual([b.id]);
      expect((await server.call<number>("POST", "/artifacts/latest/count", mine)).body).toBe(2);
    });

    it("unknown ids and keys are 404; bad input is 422 naming the field", async () => {
      const unknown = "00000000-0000-4000-8000-000000000000";
      for (const [method, path] of [
        ["GET", `/artifacts/${unknown}`],
        ["PATCH", `/artifacts/${unknown}`],
        ["DELETE", `/artifacts/${unknown}`],
        ["GET", "/artifacts/no-such-key/latest"],
      ] as const) {
        const response = await server.call<{ detail: string }>(method, path, method === "PATCH" ? { data: 1 } : undefined);
        expect(response.status, `${method} ${path}`).toBe(404);
        expect(response.body.detail).toBe("Artifact not found");
      }
      const cases: Array<[string, string, unknown, string]> = [
        ["POST", "/artifacts/", { key: "Bad_Key" }, "body.key"],
        ["POST", "/artifacts/", { key: "has space" }, "body.key"],
        ["POST", "/artifacts/", { key: "" }, "body.key"],
        ["POST", "/artifacts/", { key: 5 }, "body.key"],
        ["POST", "/artifacts/", { flow_run_id: "not-a-uuid" }, "body.flow_run_id"],
        ["POST", "/artifacts/", { metadata_: { n: 1 } }, "body.metadata_.n"],
        ["POST", "/artifacts/", { description: 7 }, "body.description"],
        ["POST", "/artifacts/", { extra: 1 }, "body"],
        ["PATCH", `/artifacts/${unknown}`, { key: "rename" }, "body"],
        ["GET", "/artifacts/not-a-uuid", undefined, "path.id"],
        ["POST", "/artifacts/filter", { sort: "NAME_ASC" }, "body.sort"],
        ["POST", "/artifacts/filter", { limit: 201 }, "body.limit"],
        ["POST", "/artifacts/filter", { artifacts: { key: { exists_: "yes" } } }, "body.artifacts.key.exists_"],
        ["POST", "/artifacts/latest/filter", { artifacts: { id: { any_: [] } } }, "body.artifacts"],
        ["POST", "/artifacts/count", { offset: -1 }, "body"],
      ];
      for (const [method, path, body, field] of cases) {
        const response = await server.call<Invalid>(method, path, body);
        expect(response.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(422);
        expect(response.body.exception_message).toContain(field);
      }
    });
  });
}
