import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deployment, FlowRun } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface Page<T> {
  results: T[];
  count: number;
  limit: number;
  pages: number;
  page: number;
}
interface ValidationError {
  exception_message: string;
  exception_detail: Array<{ loc: Array<string | number>; msg: string }>;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const PARAMETER_SCHEMA = {
  type: "object",
  title: "Parameters",
  properties: { source: { type: "string" }, limit: { type: "integer", default: 10 }, dry_run: { type: "boolean" } },
  required: ["source", "dry_run"],
};

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let server: TestServer;
    let flowId: string;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = await newFlow("deploy-main");
    });
    afterAll(() => server.close());

    async function newFlow(name: string): Promise<string> {
      const { status, body } = await server.call<{ id: string }>("POST", "/flows/", { name });
      expect(status).toBe(201);
      return body.id;
    }
    async function newDeployment(body: Record<string, unknown>): Promise<Deployment> {
      const { status, body: dep } = await server.call<Deployment>("POST", "/deployments/", { flow_id: flowId, ...body });
      expect(status).toBe(201);
      return dep;
    }
    async function read(id: string): Promise<Deployment> {
      const { status, body } = await server.call<Deployment>("GET", `/deployments/${id}`);
      expect(status).toBe(200);
      return body;
    }

    describe("create, read, update, delete", () => {
      it("creates a deployment (201) with defaults", async () => {
        const dep = await newDeployment({ name: "crud-defaults" });
        expect(dep.name).toBe("crud-defaults");
        expect(dep.flow_id).toBe(flowId);
        expect(dep.paused).toBe(false);
        expect(dep.enforce_parameter_schema).toBe(true);
        expect(dep.schedules).toEqual([]);
        expect(dep.parameters).toEqual({});
        expect(dep.job_variables).toEqual({});
        expect(dep.tags).toEqual([]);
        expect(dep.concurrency_limit).toBeNull();
        expect(dep.parameter_openapi_schema).toBeNull();
        expect(["READY", "NOT_READY"]).toContain(dep.status);
      });

      it("keeps every field the client sent", async () => {
        const pool = await server.call<{ default_queue_id: string }>("POST", "/work_pools/", { name: "pool" });
        expect(pool.status).toBe(201);
        const dep = await newDeployment({
          name: "crud-full",
          description: "does things",
          version: "7",
          tags: ["etl"],
          labels: { tier: "gold" },
          parameters: { source: "s3" },
          parameter_openapi_schema: PARAMETER_SCHEMA,
          job_variables: { image: "py:3.12" },
          work_queue_name: "default",
          work_pool_name: "pool",
          entrypoint: "flows.py:main",
          path: "/app",
          pull_steps: [{ "prefect.deployments.steps.git_clone": { repository: "x" } }],
          concurrency_limit: 3,
          concurrency_options: { collision_strategy: "CANCEL_NEW" },
          paused: true,
          schedules: [{ schedule: { interval: 3600 }, active: true }, { schedule: { cron: "0 * * * *" }, active: false }],
        });
        expect(dep.description).toBe("does things");
        expect(dep.version).toBe("7");
        expect(dep.tags).toEqual(["etl"]);
        expect(dep.labels).toEqual({ tier: "gold" });
        expect(dep.parameters).toEqual({ source: "s3" });
        expect(dep.parameter_openapi_schema).toEqual(PARAMETER_SCHEMA);
        expect(dep.job_variables).toEqual({ image: "py:3.12" });
        expect(dep.work_queue_name).toBe("default");
        expect(dep.work_pool_name).toBe("pool");
        // The pool's "default" queue is the one named, so the deployment is linked to it.
        expect(dep.work_queue_id).toBe(pool.body.default_queue_id);
        expect(dep.entrypoint).toBe("flows.py:main");
        expect(dep.path).toBe("/app");
        expect(dep.pull_steps).toEqual([{ "prefect.deployments.steps.git_clone": { repository: "x" } }]);
        expect(dep.concurrency_limit).toBe(3);
        expect(dep.concurrency_options).toEqual({ collision_strategy: "CANCEL_NEW", grace_period_seconds: null });
        expect(dep.paused).toBe(true);
        expect(dep.schedules).toHaveLength(2);
        expect(dep.schedules[0]?.schedule).toMatchObject({ interval: 3600 });
        expect(dep.schedules[0]?.active).toBe(true);
        expect(dep.schedules[0]?.deployment_id).toBe(dep.id);
        expect(dep.schedules[1]?.schedule).toMatchObject({ cron: "0 * * * *" });
        expect(dep.schedules[1]?.active).toBe(false);
        expect(await read(dep.id)).toEqual(dep);
      });

      it("upserts on flow + name: a second create answers 200 with the same id and the new fields", async () => {
        const first = await newDeployment({ name: "crud-upsert", description: "one", tags: ["a"], parameters: { x: 1 }, schedules: [{ schedule: { interval: 60 } }] });
        await sleep(5);
        const second = await server.call<Deployment>("POST", "/deployments/", {
          flow_id: flowId,
          name: "crud-upsert",
          description: "two",
          tags: ["b"],
          parameters: { x: 2 },
          schedules: [{ schedule: { interval: 120 } }],
        });
        expect(second.status).toBe(200);
        expect(second.body.id).toBe(first.id);
        expect(second.body.description).toBe("two");
        expect(second.body.tags).toEqual(["b"]);
        expect(second.body.parameters).toEqual({ x: 2 });
        expect(second.body.schedules.map((s) => s.schedule)).toEqual([expect.objectContaining({ interval: 120 })]);
        expect(second.body.created).toBe(first.created);
        expect(Date.parse(second.body.updated)).toBeGreaterThan(Date.parse(first.updated));
        const count = await server.call<number>("POST", "/deployments/count", { deployments: { name: { any_: ["crud-upsert"] } } });
        expect(count.body).toBe(1);
      });

      it("the same name under another flow is another deployment", async () => {
        const other = await newFlow("deploy-other");
        const a = await newDeployment({ name: "crud-shared" });
        const b = await newDeployment({ name: "crud-shared", flow_id: other });
        expect(b.id).not.toBe(a.id);
      });

      it("reads by /deployments/name/{flow}/{deployment}", async () => {
        const dep = await newDeployment({ name: "crud-by-name" });
        const { status, body } = await server.call<Deployment>("GET", "/deployments/name/deploy-main/crud-by-name");
        expect(status).toBe(200);
        expect(body.id).toBe(dep.id);
        expect((await server.call("GET", "/deployments/name/deploy-main/nope")).status).toBe(404);
        expect((await server.call("GET", "/deployments/name/nope/crud-by-name")).status).toBe(404);
      });

      it("answers 404 for an unknown flow or deployment", async () => {
        expect((await server.call("POST", "/deployments/", { name: "x", flow_id: crypto.randomUUID() })).status).toBe(404);
        expect((await server.call("GET", `/deployments/${crypto.randomUUID()}`)).status).toBe(404);
        expect((await server.call("PATCH", `/deployments/${crypto.randomUUID()}`, { paused: true })).status).toBe(404);
        expect((await server.call("DELETE", `/deployments/${crypto.randomUUID()}`)).status).toBe(404);
      });

      it("patches fields (204), replacing schedules when given", async () => {
        const dep = await newDeployment({ name: "crud-patch", description: "before", tags: ["t"], schedules: [{ schedule: { interval: 60 } }] });
        const patch = await server.call("PATCH", `/deployments/${dep.id}`, {
          description: "after",
          paused: true,
          parameters: { p: true },
          schedules: [{ schedule: { cron: "*/5 * * * *" } }, { schedule: { interval: 30 } }],
        });
        expect(patch.status).toBe(204);
        expect(patch.body).toBeUndefined();
        const after = await read(dep.id);
        expect(after.description).toBe("after");
        expect(after.paused).toBe(true);
        expect(after.parameters).toEqual({ p: true });
        expect(after.name).toBe("crud-patch");
        expect(after.schedules.map((s) => s.schedule)).toEqual([
          expect.objectContaining({ cron: "*/5 * * * *" }),
          expect.objectContaining({ interval: 30 }),
        ]);
        const cleared = await server.call("PATCH", `/deployments/${dep.id}`, { schedules: [], tags: [] });
        expect(cleared.status).toBe(204);
        const none = await read(dep.id);
        expect(none.schedules).toEqual([]);
        expect(none.tags).toEqual([]);
        expect(none.description).toBe("after");
      });

      it("a partial patch leaves every field it does not name alone", async () => {
        const dep = await newDeployment({
          name: "crud-partial",
          tags: ["keep-me"],
          parameters: { keep: 1 },
          job_variables: { image: "keep" },
          enforce_parameter_schema: false,
          paused: true,
          schedules: [{ schedule: { interval: 60 } }],
        });
        expect((await server.call("PATCH", `/deployments/${dep.id}`, { description: "only this" })).status).toBe(204);
        const after = await read(dep.id);
        expect(after.description).toBe("only this");
        expect({
          tags: after.tags,
          parameters: after.parameters,
          job_variables: after.job_variables,
          enforce_parameter_schema: after.enforce_parameter_schema,
          paused: after.paused,
          schedules: after.schedules.length,
        }).toEqual({ tags: ["keep-me"], parameters: { keep: 1 }, job_variables: { image: "keep" }, enforce_parameter_schema: false, paused: true, schedules: 1 });
      });

      it("deletes (204) with its never-run Scheduled runs; its other runs stay, without a deployment", async () => {
        const dep = await newDeployment({ name: "crud-delete" });
        const run = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, {});
        expect(run.status).toBe(201);
        const waiting = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, {});
        expect((await server.call<{ status: string }>("POST", `/flow_runs/${run.body.id}/set_state`, { state: { type: "PENDING" } })).body.status).toBe("ACCEPT");
        const del = await server.call("DELETE", `/deployments/${dep.id}`);
        expect(del.status).toBe(204);
        expect((await server.call("GET", `/deployments/${dep.id}`)).status).toBe(404);
        const orphan = await server.call<FlowRun>("GET", `/flow_runs/${run.body.id}`);
        expect(orphan.status).toBe(200);
        expect(orphan.body.deployment_id).toBeNull();
        // As in Prefect: a Scheduled run that never ran would run a deployment that is gone.
        expect((await server.call("GET", `/flow_runs/${waiting.body.id}`)).status).toBe(404);
        expect((await server.call("DELETE", `/deployments/${dep.id}`)).status).toBe(404);
      });
    });

    describe("filter, count, paginate", () => {
      const scope = { flows: { name: { any_: ["deploy-fx-a", "deploy-fx-b"] } } };
      const ids: Record<string, string> = {};
      beforeAll(async () => {
        const a = await newFlow("deploy-fx-a");
        const b = await newFlow("deploy-fx-b");
        const specs: Array<Record<string, unknown>> = [
          { flow_id: a, name: "d-one", tags: ["x", "y"], paused: true, concurrency_limit: 1, work_queue_name: "q1" },
          { flow_id: a, name: "d-two", tags: ["x"], concurrency_limit: 5, work_queue_name: "q2" },
          { flow_id: b, name: "d-three", tags: [] },
          { flow_id: b, name: "other-four", tags: ["y"], concurrency_limit: 10 },
        ];
        for (const spec of specs) {
          ids[spec.name as string] = (await newDeployment(spec)).id;
          await sleep(3);
        }
      });
      async function names(body: Record<string, unknown>): Promise<string[]> {
        const { status, body: found } = await server.call<Deployment[]>("POST", "/deployments/filter", { ...scope, ...body });
        expect(status).toBe(200);
        return found.map((d) => d.name);
      }

      it("sorts NAME_ASC by default; NAME_DESC and CREATED_DESC on request", async () => {
        expect(await names({})).toEqual(["d-one", "d-three", "d-two", "other-four"]);
        expect(await names({ sort: "NAME_DESC" })).toEqual(["other-four", "d-two", "d-three", "d-one"]);
        expect(await names({ sort: "CREATED_DESC" })).toEqual(["other-four", "d-three", "d-two", "d-one"]);
      });

      it("id any_ / not_any_, name any_ / like_", async () => {
        expect(await names({ deployments: { id: { any_: [ids["d-two"], ids["other-four"]] } } })).toEqual(["d-two", "other-four"]);
        expect(await names({ deployments: { id: { not_any_: [ids["d-two"]] } } })).toEqual(["d-one", "d-three", "other-four"]);
        expect(await names({ deployments: { name: { like_: "D-T" } } })).toEqual(["d-three", "d-two"]);
        expect(await names({ deployments: { name: { any_: ["d-one"] } } })).toEqual(["d-one"]);
      });

      it("tags, paused, work queue, concurrency limit", async () => {
        expect(await names({ deployments: { tags: { all_: ["x", "y"] } } })).toEqual(["d-one"]);
        expect(await names({ deployments: { tags: { any_: ["y"] } } })).toEqual(["d-one", "other-four"]);
        expect(await names({ deployments: { tags: { is_null_: true } } })).toEqual(["d-three"]);
        expect(await names({ deployments: { paused: { eq_: true } } })).toEqual(["d-one"]);
        expect(await names({ deployments: { paused: { eq_: false } } })).toEqual(["d-three", "d-two", "other-four"]);
        expect(await names({ deployments: { work_queue_name: { any_: ["q2"] } } })).toEqual(["d-two"]);
        expect(await names({ deployments: { concurrency_limit: { ge_: 5 } } })).toEqual(["d-two", "other-four"]);
        expect(await names({ deployments: { concurrency_limit: { le_: 5 } } })).toEqual(["d-one", "d-two"]);
        expect(await names({ deployments: { concurrency_limit: { is_null_: true } } })).toEqual(["d-three"]);
      });

      it("flow_or_deployment_name like_ matches either name", async () => {
        expect(await names({ deployments: { flow_or_deployment_name: { like_: "fx-b" } } })).toEqual(["d-three", "other-four"]);
        expect(await names({ deployments: { flow_or_deployment_name: { like_: "other" } } })).toEqual(["other-four"]);
      });

      it("nested or_ and cross filters by flow and by runs", async () => {
        expect(await names({ deployments: { operator: "or_", paused: { eq_: true }, name: { any_: ["d-three"] } } })).toEqual(["d-one", "d-three"]);
        const onlyB = await server.call<Deployment[]>("POST", "/deployments/filter", { flows: { name: { any_: ["deploy-fx-b"] } } });
        expect(onlyB.body.map((d) => d.name)).toEqual(["d-three", "other-four"]);
        const run = await server.call<FlowRun>("POST", `/deployments/${ids["d-two"]}/create_flow_run`, {});
        expect(run.status).toBe(201);
        expect(await names({ flow_runs: { id: { any_: [run.body.id] } } })).toEqual(["d-two"]);
      });

      it("limit, offset, count, paginate", async () => {
        expect(await names({ limit: 2, offset: 1 })).toEqual(["d-three", "d-two"]);
        const count = await server.call<number>("POST", "/deployments/count", { ...scope, deployments: { tags: { any_: ["x"] } } });
        expect(count.status).toBe(200);
        expect(count.body).toBe(2);
        const page = await server.call<Page<Deployment>>("POST", "/deployments/paginate", { ...scope, limit: 3, page: 2 });
        expect(page.status).toBe(200);
        expect(page.body).toMatchObject({ count: 4, limit: 3, pages: 2, page: 2 });
        expect(page.body.results.map((d) => d.name)).toEqual(["other-four"]);
      });
    });

    describe("create_flow_run", () => {
      let dep: Deployment;
      beforeAll(async () => {
        dep = await newDeployment({
          name: "runner",
          version: "v3",
          tags: ["from-deployment"],
          parameters: { source: "db", limit: 5 },
          parameter_openapi_schema: PARAMETER_SCHEMA,
          job_variables: { image: "a", cpu: 1 },
          work_queue_name: "wq-runner",
        });
      });

      it("creates a SCHEDULED run linked to the deployment, with parameters merged over the defaults", async () => {
        const before = Date.now();
        const { status, body: run } = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, {
          parameters: { limit: 50, dry_run: true },
          tags: ["from-run"],
          job_variables: { cpu: 4 },
          name: "launched",
        });
        expect(status).toBe(201);
        expect(run.state_type).toBe("SCHEDULED");
        expect(run.state_name).toBe("Scheduled");
        expect(run.deployment_id).toBe(dep.id);
        expect(run.deployment_version).toBe("v3");
        expect(run.flow_id).toBe(flowId);
        expect(run.name).toBe("launched");
        expect(run.parameters).toEqual({ source: "db", limit: 50, dry_run: true });
        expect([...run.tags].sort()).toEqual(["from-deployment", "from-run"]);
        expect(run.work_queue_name).toBe("wq-runner");
        expect(run.job_variables).toEqual({ image: "a", cpu: 4 });
        expect(Date.parse(run.next_scheduled_start_time!)).toBeGreaterThanOrEqual(before - 1000);
        expect(Date.parse(run.next_scheduled_start_time!)).toBeLessThanOrEqual(Date.now() + 1000);
        expect(run.expected_start_time).toBe(run.next_scheduled_start_time);
        const listed = await server.call<FlowRun[]>("POST", "/flow_runs/filter", { deployments: { id: { any_: [dep.id] } } });
        expect(listed.body.map((r) => r.id)).toContain(run.id);
      });

      it("refuses a run missing a required parameter with a 422 that names it", async () => {
        const runsOf = { deployments: { id: { any_: [dep.id] } } };
        const before = (await server.call<number>("POST", "/flow_runs/count", runsOf)).body;
        const { status, body } = await server.call<ValidationError>("POST", `/deployments/${dep.id}/create_flow_run`, { parameters: { limit: 1 } });
        expect(status).toBe(422);
        expect(body.exception_message).toContain("dry_run");
        expect(JSON.stringify(body.exception_detail)).toContain("dry_run");
        // `source` has a deployment default, so only `dry_run` is missing.
        expect(body.exception_message).not.toContain("source");
        expect((await server.call<number>("POST", "/flow_runs/count", runsOf)).body).toBe(before);
      });

      it("lets the run skip the schema check when it asks to", async () => {
        const { status, body } = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, { parameters: {}, enforce_parameter_schema: false });
        expect(status).toBe(201);
        expect(body.parameters).toEqual({ source: "db", limit: 5 });
      });

      it("uses a given state instead of SCHEDULED", async () => {
        const later = new Date(Date.now() + 3600_000).toISOString();
        const { status, body } = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, {
          parameters: { dry_run: false },
          state: { type: "SCHEDULED", state_details: { scheduled_time: later } },
        });
        expect(status).toBe(201);
        expect(body.next_scheduled_start_time).toBe(later);
        const pending = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, { parameters: { dry_run: false }, state: { type: "PENDING" } });
        expect(pending.body.state_type).toBe("PENDING");
      });

      it("returns the existing run (200) for a repeated idempotency key", async () => {
        const first = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, { parameters: { dry_run: true }, idempotency_key: "dep-idem" });
        expect(first.status).toBe(201);
        const again = await server.call<FlowRun>("POST", `/deployments/${dep.id}/create_flow_run`, { parameters: { dry_run: true }, idempotency_key: "dep-idem" });
        expect(again.status).toBe(200);
        expect(again.body.id).toBe(first.body.id);
      });

      it("answers 404 for an unknown deployment", async () => {
        expect((await server.call("POST", `/deployments/${crypto.randomUUID()}/create_flow_run`, {})).status).toBe(404);
      });
    });
  });
}
