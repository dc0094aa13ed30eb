import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Automation } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface Invalid {
  exception_message: string;
}

const DEPLOYMENT_A = "11111111-1111-4111-8111-111111111111";

function automation(name: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    name,
    trigger: { posture: "Reactive", expect: ["prefect.flow-run.Crashed"], match: { "prefect.resource.id": "prefect.flow-run.*" } },
    actions: [{ type: "run-deployment", deployment_id: DEPLOYMENT_A, parameters: { reason: "{{ flow_run.name }} crashed" } }],
    ...extra,
  };
}

for (const dialect of DIALECTS) {
  describe(`automations API on ${dialect}`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    async function create(body: Record<string, unknown>): Promise<Automation> {
      const { status, body: created } = await server.call<Automation>("POST", "/automations/", body);
      expect(status, JSON.stringify(created)).toBe(201);
      return created;
    }

    it("creates, reads, replaces, disables and deletes an automation", async () => {
      const created = await create(automation("crud", { tags: ["ops"], description: "when a run crashes" }));
      expect(created).toMatchObject({ name: "crud", enabled: true, tags: ["ops"], description: "when a run crashes", actions_on_trigger: [], actions_on_resolve: [] });
      expect(created.trigger).toMatchObject({ type: "event", posture: "Reactive", threshold: 1, within: 0, after: [], for_each: [] });
      expect(created.actions[0]).toMatchObject({ type: "run-deployment", source: "selected", deployment_id: DEPLOYMENT_A });
      expect((await server.call<Automation>("GET", `/automations/${created.id}`)).body).toEqual(created);

      const replaced = await server.call("PUT", `/automations/${created.id}`, automation("crud-2", { actions: [{ type: "do-nothing" }] }));
      expect(replaced.status).toBe(204);
      const read = (await server.call<Automation>("GET", `/automations/${created.id}`)).body;
      expect(read.name).toBe("crud-2");
      expect(read.actions).toEqual([{ type: "do-nothing" }]);

      expect((await server.call("PATCH", `/automations/${created.id}`, { enabled: false })).status).toBe(204);
      expect((await server.call<Automation>("GET", `/automations/${created.id}`)).body.enabled).toBe(false);
      expect((await server.call("PATCH", `/automations/${created.id}`, { enabled: true })).status).toBe(204);
      expect((await server.call<Automation>("GET", `/automations/${created.id}`)).body.enabled).toBe(true);

      expect((await server.call("DELETE", `/automations/${created.id}`)).status).toBe(204);
      expect((await server.call("GET", `/automations/${created.id}`)).status).toBe(404);
      expect((await server.call("DELETE", `/automations/${created.id}`)).status).toBe(404);
      expect((await server.call("PATCH", `/automations/${created.id}`, { enabled: false })).status).toBe(404);
    });

    it("filters, sorts and counts automations by name, tags and creation time", async () => {
      await create(automation("f-alpha", { tags: ["x", "y"] }));
      await create(automation("f-beta", { tags: ["x"] }));
      await create(automation("f-gamma"));
      const names = async (body: unknown) => (await server.call<Automation[]>("POST", "/automations/filter", body)).body.map((a) => a.name).filter((n) => n.startsWith("f-"));
      expect(await names({})).toEqual(["f-alpha", "f-beta", "f-gamma"]);
      expect(await names({ sort: "NAME_DESC" })).toEqual(["f-gamma", "f-beta", "f-alpha"]);
      expect(await names({ automations: { name: { any_: ["f-beta", "f-gamma"] } } })).toEqual(["f-beta", "f-gamma"]);
      expect(await names({ automations: { tags: { all_: ["x", "y"] } } })).toEqual(["f-alpha"]);
      expect(await names({ automations: { tags: { any_: ["x"] } } })).toEqual(["f-alpha", "f-beta"]);
      expect(await names({ automations: { tags: { is_null_: true } } })).toEqual(["f-gamma"]);
      expect(await names({ automations: { created: { before_: "2000-01-01T00:00:00Z" } } })).toEqual([]);
      expect((await server.call<Automation[]>("POST", "/automations/filter", { limit: 1, sort: "CREATED_DESC" })).body.map((a) => a.name)).toEqual(["f-gamma"]);
      expect((await server.call<number>("POST", "/automations/count", { automations: { tags: { any_: ["x"] } } })).body).toBe(2);
      expect((await server.call<number>("POST", "/automations/count")).status).toBe(200);
    });

    it("finds automations related to a resource, and deletes those a resource owns", async () => {
      const owned = await create(automation("owned", { owner_resource: "prefect.deployment.owner-1" }));
      const related = await server.call<Automation[]>("GET", `/automations/related-to/prefect.deployment.${DEPLOYMENT_A}`);
      expect(related.body.map((a) => a.id)).toContain(owned.id);
      expect((await server.call<Automation[]>("GET", "/automations/related-to/prefect.deployment.owner-1")).body.map((a) => a.id)).toEqual([owned.id]);
      expect((await server.call("DELETE", "/automations/owned-by/prefect.deployment.owner-1")).status).toBe(202);
      expect((await server.call("GET", `/automations/${owned.id}`)).status).toBe(404);
    });

    it("validates templates: 200 when they compile, 422 saying where when not", async () => {
      for (const path of ["/templates/validate", "/automations/templates/validate"]) {
        expect((await server.call("POST", path, "Run {{ flow_run.name }} is {{ flow_run.state.name | upper }}")).status).toBe(200);
        const bad = await server.call<{ error: { line: number; message: string } } & Invalid>("POST", path, "line one\n{% if %}");
        expect(bad.status).toBe(422);
        expect(bad.body.error.line).toBe(2);
        expect(bad.body.exception_message).toContain("body");
        const unknownFilter = await server.call<Invalid>("POST", path, "{{ x | no_such_filter }}");
        expect(unknownFilter.status).toBe(422);
        expect(unknownFilter.body.exception_message).toContain("no_such_filter");
      }
    });

    it("refuses bad input with a 422 naming the field", async () => {
      const cases: Array<[Record<string, unknown>, string]> = [
        [automation("bad", { actions: [{ type: "launch-rocket" }] }), "body.actions.0.type: unknown action type"],
        [automation("bad", { actions: [{ type: "send-notification", block_document_id: DEPLOYMENT_A, body: "{% if %}" }] }), "body.actions.0.body: is not a valid template"],
        [automation("bad", { actions: [{ type: "call-webhook", block_document_id: DEPLOYMENT_A, payload: "{{ event | nope }}" }] }), "body.actions.0.payload: is not a valid template"],
        [automation("bad", { actions: [{ type: "run-deployment", deployment_id: DEPLOYMENT_A, parameters: { a: { b: "{{ oops" } } }] }), "body.actions.0.parameters.a.b: is not a valid template"],
        [automation("bad", { actions: [{ type: "pause-deployment" }] }), "body.actions.0.deployment_id: is required when source is 'selected'"],
        [automation("bad", { actions: [{ type: "pause-work-pool", source: "inferred", work_pool_id: DEPLOYMENT_A }] }), "body.actions.0.work_pool_id: must not be set"],
        [automation("bad", { trigger: { type: "bogus" } }), "body.trigger.type: unknown trigger type"],
        [automation("bad", { trigger: { posture: "Proactive", within: 5 } }), "body.trigger.within: must be at least 10 seconds"],
        [automation("bad", { trigger: { posture: "Sideways" } }), "body.trigger.posture"],
        [automation("bad", { trigger: { type: "compound", require: 3, within: 60, triggers: [{ posture: "Reactive" }] } }), "body.trigger.require"],
        [automation("bad", { trigger: { type: "sequence", within: 60, triggers: [] } }), "body.trigger.triggers"],
        [automation("bad", { unknown_field: 1 }), "body"],
        [{ trigger: { posture: "Reactive" }, actions: [] }, "body.name"],
      ];
      for (const [body, message] of cases) {
        const response = await server.call<Invalid>("POST", "/automations/", body);
        expect(response.status, JSON.stringify(body)).toBe(422);
        expect(response.body.exception_message).toContain(message);
      }
      const same = "22222222-2222-4222-8222-222222222222";
      const dup = await server.call<Invalid>("POST", "/automations/", automation("dup", { trigger: { type: "compound", require: "all", within: null, triggers: [{ id: same, posture: "Reactive" }, { id: same, posture: "Reactive" }] } }));
      expect(dup.status).toBe(422);
      expect(dup.body.exception_message).toContain("body.trigger: two triggers share the id");
      expect((await server.call("GET", "/automations/not-a-uuid")).status).toBe(422);
    });

    it("accepts every action type of the contract", async () => {
      const id = DEPLOYMENT_A;
      const actions = [
        { type: "do-nothing" },
        { type: "run-deployment", source: "inferred" },
        { type: "pause-deployment", deployment_id: id },
        { type: "resume-deployment", source: "inferred" },
        { type: "cancel-flow-run" },
        { type: "delete-flow-run" },
        { type: "change-flow-run-state", state: "FAILED", message: "by {{ automation.name }}" },
        { type: "pause-work-queue", work_queue_id: id },
        { type: "resume-work-queue", source: "inferred" },
        { type: "send-notification", block_document_id: id, subject: "{{ flow_run.name }}", body: "crashed" },
        { type: "call-webhook", block_document_id: id, payload: '{"run": "{{ flow_run.id }}"}' },
        { type: "pause-automation", automation_id: id },
        { type: "resume-automation", source: "inferred" },
        { type: "suspend-flow-run" },
        { type: "resume-flow-run" },
        { type: "pause-work-pool", work_pool_id: id },
        { type: "resume-work-pool", source: "inferred" },
      ];
      const created = await create(automation("all-actions", { actions, actions_on_trigger: [{ type: "do-nothing" }] }));
      expect(created.actions.map((a) => a.type)).toEqual(actions.map((a) => a.type));
    });
  });
}
