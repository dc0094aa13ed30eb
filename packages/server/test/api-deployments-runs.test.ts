import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Deployment, FlowRun } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/** Runs made from a deployment: parameters checked against its JSON schema, bulk creation, bulk delete. */

interface ValidationError {
  exception_message: string;
  exception_detail: Array<{ loc: Array<string | number>; msg: string }>;
}

/** A schema as Prefect's client generates it from `def etl(source: str, retries: int = 3, when: datetime | None = None, config: Config = ...)`. */
const SCHEMA = {
  type: "object",
  title: "Parameters",
  properties: {
    source: { type: "string", title: "source", position: 0 },
    retries: { type: "integer", title: "retries", default: 3, position: 1, minimum: 0 },
    when: { type: "string", format: "date-time", title: "when", position: 2 },
    mode: { enum: ["full", "delta"], title: "mode", default: "full", position: 3 },
    pair: { type: "array", items: [{ type: "string" }, { type: "integer" }], position: 4 },
    config: { $ref: "#/definitions/Config", position: 5 },
  },
  required: ["source"],
  definitions: {
    Config: { title: "Config", type: "object", properties: { threads: { type: "integer" }, name: { type: "string" } }, required: ["threads"] },
  },
};

for (const dialect of DIALECTS) {
  describe(`deployment runs (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;
    let dep: Deployment;

    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "runs-flow" })).body.id;
      dep = (await server.call<Deployment>("POST", "/deployments/", { flow_id: flowId, name: "checked", parameters: { retries: 5 }, parameter_openapi_schema: SCHEMA })).body;
    });
    afterAll(() => server.close());

    const create = (parameters: Record<string, unknown>, extra: Record<string, unknown> = {}) =>
      server.call<FlowRun & ValidationError>("POST", `/deployments/${dep.id}/create_flow_run`, { parameters, ...extra });

    describe("parameters against parameter_openapi_schema", () => {
      it("accepts parameters that fit, merged over the deployment's", async () => {
        const { status, body } = await create({ source: "s3", when: "2026-01-01T00:00:00Z", mode: "delta", pair: ["a", 1], config: { threads: 4 } });
        expect(status).toBe(201);
        expect(body.parameters).toEqual({ source: "s3", retries: 5, when: "2026-01-01T00:00:00Z", mode: "delta", pair: ["a", 1], config: { threads: 4 } });
        // An optional parameter without a default may be None (null).
        expect((await create({ source: "s3", when: null })).status).toBe(201);
      });

      it("refuses a bad parameter with a 422 that names it", async () => {
        const cases: Array<[Record<string, unknown>, string]> = [
          [{ retries: 1 }, "body.parameters.source"],
          [{ source: 42 }, "body.parameters.source"],
          [{ source: "s3", retries: "three" }, "body.parameters.retries"],
          [{ source: "s3", retries: -1 }, "body.parameters.retries"],
          [{ source: "s3", when: "yesterday" }, "body.parameters.when"],
          [{ source: "s3", mode: "partial" }, "body.parameters.mode"],
          [{ source: "s3", pair: ["a", "b"] }, "body.parameters.pair.1"],
          [{ source: "s3", config: { name: "x" } }, "body.parameters.config.threads"],
          [{ source: "s3", config: { threads: 1.5 } }, "body.parameters.config.threads"],
        ];
        for (const [parameters, field] of cases) {
          const { status, body } = await create(parameters);
          expect(status, JSON.stringify(parameters)).toBe(422);
          expect(body.exception_message, JSON.stringify(parameters)).toContain(field);
          expect(body.exception_detail[0]?.loc.join(".")).toBe(field);
        }
      });

      it("skips the check when the run or the deployment asks to", async () => {
        expect((await create({ source: 42 }, { enforce_parameter_schema: false })).status).toBe(201);
        const loose = (await server.call<Deployment>("POST", "/deployments/", { flow_id: flowId, name: "loose", enforce_parameter_schema: false, parameter_openapi_schema: SCHEMA })).body;
        expect((await server.call("POST", `/deployments/${loose.id}/create_flow_run`, { parameters: { source: 42 } })).status).toBe(201);
        expect((await server.call("POST", `/deployments/${loose.id}/create_flow_run`, { parameters: { source: 42 }, enforce_parameter_schema: true })).status).toBe(422);
      });

      it("checks a deployment's own defaults and schema when it is saved", async () => {
        const badDefault = await server.call<ValidationError>("POST", "/deployments/", { flow_id: flowId, name: "bad-default", parameters: { retries: "x" }, parameter_openapi_schema: SCHEMA });
        expect(badDefault.status).toBe(422);
        expect(badDefault.body.exception_message).toContain("body.parameters.retries");
        const badSchema = await server.call<ValidationError>("POST", "/deployments/", { flow_id: flowId, name: "bad-schema", parameter_openapi_schema: { type: "object", properties: { a: { type: "bogus" } } } });
        expect(badSchema.status).toBe(422);
        expect(badSchema.body.exception_message).toContain("body.parameter_openapi_schema");
        const patch = await server.call<ValidationError>("PATCH", `/deployments/${dep.id}`, { parameters: { retries: -3 } });
        expect(patch.status).toBe(422);
        expect(patch.body.exception_message).toContain("body.parameters.retries");
        // Required parameters may be left to each run.
        expect((await server.call("PATCH", `/deployments/${dep.id}`, { parameters: { retries: 2 } })).status).toBe(204);
      });
    });

    describe("create_flow_run/bulk", () => {
      it("creates each run or says why not", async () => {
        const { status, body } = await server.call<{ results: Array<{ flow_run_id: string | null; status: string; error: string | null }> }>(
          "POST",
          `/deployments/${dep.id}/create_flow_run/bulk`,
          [{ parameters: { source: "a" }, name: "first" }, { parameters: { source: 1 } }, { parameters: { source: "c" }, tags: ["bulk"] }],
        );
        expect(status).toBe(200);
        expect(body.results.map((r) => r.status)).toEqual(["CREATED", "FAILED", "CREATED"]);
        expect(body.results[1]).toMatchObject({ flow_run_id: null });
        expect(body.results[1]!.error).toContain("parameters.source");
        const first = (await server.call<FlowRun>("GET", `/flow_runs/${body.results[0]!.flow_run_id}`)).body;
        expect(first).toMatchObject({ name: "first", deployment_id: dep.id, state_type: "SCHEDULED", parameters: { source: "a", retries: 2 } });
        expect((await server.call<FlowRun>("GET", `/flow_runs/${body.results[2]!.flow_run_id}`)).body.tags).toContain("bulk");
      });

      it("takes at most 100 runs, and 404s for an unknown deployment", async () => {
        const tooMany = await server.call<ValidationError>("POST", `/deployments/${dep.id}/create_flow_run/bulk`, Array.from({ length: 101 }, () => ({ parameters: { source: "x" } })));
        expect(tooMany.status).toBe(422);
        expect(tooMany.body.exception_message).toContain("100");
        const bad = await server.call<ValidationError>("POST", `/deployments/${dep.id}/create_flow_run/bulk`, [{ parameters: { source: "x" } }, { state: { type: "NOPE" } }]);
        expect(bad.status).toBe(422);
        expect(bad.body.exception_message).toContain("body.1.state.type");
        expect((await server.call("POST", `/deployments/${crypto.randomUUID()}/create_flow_run/bulk`, [])).status).toBe(404);
      });
    });

    describe("bulk_delete", () => {
      it("deletes the deployments a filter matches, up to the limit", async () => {
        const ids: string[] = [];
        for (const name of ["gone-1", "gone-2", "gone-3", "kept"]) {
          ids.push((await server.call<Deployment>("POST", "/deployments/", { flow_id: flowId, name, tags: name.startsWith("gone") ? ["gone"] : [] })).body.id);
        }
        const first = await server.call<{ deleted: string[] }>("POST", "/deployments/bulk_delete", { deployments: { tags: { all_: ["gone"] } }, limit: 2 });
        expect(first.status).toBe(200);
        expect(first.body.deleted).toHaveLength(2);
        const rest = await server.call<{ deleted: string[] }>("POST", "/deployments/bulk_delete", { deployments: { tags: { all_: ["gone"] } } });
        expect([...first.body.deleted, ...rest.body.deleted].sort()).toEqual(ids.slice(0, 3).sort());
        expect((await server.call("GET", `/deployments/${ids[3]}`)).status).toBe(200);
        expect((await server.call("POST", "/deployments/bulk_delete", { limit: 51 })).status).toBe(422);
      });
    });
  });
}
