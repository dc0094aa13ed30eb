import { createServer, type IncomingMessage, type Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun } from "@baton/core";
import { database, Harness, type Db } from "./automation-harness.js";
import { DIALECTS } from "./harness.js";

interface Received {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A local HTTP endpoint that records what the actions send it. */
async function receiver(): Promise<{ url: string; received: Received[]; close(): Promise<void> }> {
  const received: Received[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      received.push({ method: request.method ?? "", url: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString("utf8") });
      response.statusCode = request.url?.includes("fail") ? 500 : 200;
      response.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address() as { port: number };
  return { url: `http://127.0.0.1:${address.port}`, received, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

for (const dialect of DIALECTS) {
  describe(`automation actions on ${dialect}`, () => {
    let db: Db;
    let h: Harness;
    let http: Awaited<ReturnType<typeof receiver>>;
    beforeAll(async () => {
      db = database(dialect);
      h = await Harness.start(db);
      http = await receiver();
    });
    afterAll(async () => {
      await h.server.close();
      await db.cleanup();
      await http.close();
    });

    async function block(slug: string, name: string, data: Record<string, unknown>): Promise<string> {
      const type = (await h.call<{ id: string }>("GET", `/block_types/slug/${slug}`)).body;
      const schema = (await h.call<Array<{ id: string }>>("POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [type.id] } } })).body[0]!;
      const doc = await h.call<{ id: string }>("POST", "/block_documents/", { name, block_type_id: type.id, block_schema_id: schema.id, data });
      expect(doc.status, JSON.stringify(doc.body)).toBe(201);
      return doc.body.id;
    }

    async function flowRun(name: string, state: Record<string, unknown>, deploymentId?: string): Promise<FlowRun> {
      const flow = (await h.call<{ id: string }>("POST", "/flows/", { name: "actions-flow" })).body;
      const run = await h.call<FlowRun>("POST", "/flow_runs/", { flow_id: flow.id, name, state, ...(deploymentId ? { deployment_id: deploymentId } : {}) });
      expect(run.status, JSON.stringify(run.body)).toBe(201);
      return run.body;
    }

    async function trigger(eventName: string, run: FlowRun, related: Array<Record<string, string>> = []): Promise<void> {
      await h.emit(eventName, `prefect.flow-run.${run.id}`, { related });
      await h.settle();
    }

    const onEvent = (name: string, actions: unknown[]) => ({ name, trigger: { posture: "Reactive", expect: [name] }, actions });

    it("sends a notification through a Slack webhook block and calls a webhook block, with rendered templates", async () => {
      const slack = await block("slack-webhook", "team-slack", { url: `${http.url}/slack` });
      const hook = await block("webhook", "ops-hook", { url: `${http.url}/hook?token=abc`, method: "PUT", headers: { "x-team": "ops" } });
      await h.automation(
        onEvent("test.notify", [
          { type: "send-notification", block_document_id: slack, subject: "Run {{ flow_run.name }}", body: "is {{ flow_run.state.type }} ({{ event.event }})" },
          { type: "call-webhook", block_document_id: hook, payload: '{"run": "{{ flow_run.name }}", "labels": {{ labels | tojson }}}' },
        ]),
      );
      const run = await flowRun("noisy-heron", { type: "RUNNING" });
      await trigger("test.notify", run);
      const slackCall = http.received.find((r) => r.url === "/slack")!;
      expect(JSON.parse(slackCall.body)).toEqual({ text: "*Run noisy-heron*\nis RUNNING (test.notify)" });
      const hookCall = http.received.find((r) => r.url.startsWith("/hook"))!;
      expect(hookCall.method).toBe("PUT");
      expect(hookCall.headers["x-team"]).toBe("ops");
      expect(hookCall.headers["content-type"]).toBe("application/json");
      expect(JSON.parse(hookCall.body)).toEqual({ run: "noisy-heron", labels: {} });
    });

    it("sends through a custom webhook block with its secrets substituted", async () => {
      const custom = await block("custom-webhook", "custom", {
        url: `${http.url}/custom`,
        json_data: { title: "{{subject}}", text: "{{body}}", key: "{{api_key}}" },
        headers: { authorization: "Bearer {{api_key}}" },
        secrets: { api_key: "k-123" },
      });
      await h.automation(onEvent("test.custom", [{ type: "send-notification", block_document_id: custom, subject: "Hello", body: "{{ flow_run.name }}" }]));
      await trigger("test.custom", await flowRun("custom-run", { type: "RUNNING" }));
      const call = http.received.find((r) => r.url === "/custom")!;
      expect(JSON.parse(call.body)).toEqual({ title: "Hello", text: "custom-run", key: "k-123" });
      expect(call.headers.authorization).toBe("Bearer k-123");
    });

    it("cancels, suspends, resumes, changes the state of and deletes the flow run of the event", async () => {
      await h.automation(onEvent("test.cancel", [{ type: "cancel-flow-run" }]));
      await h.automation(onEvent("test.suspend", [{ type: "suspend-flow-run" }]));
      await h.automation(onEvent("test.resume", [{ type: "resume-flow-run" }]));
      await h.automation(onEvent("test.fail", [{ type: "change-flow-run-state", state: "FAILED", name: "Stopped", message: "{{ automation.name }} stopped {{ flow_run.name }}", force: true }]));
      await h.automation(onEvent("test.delete", [{ type: "delete-flow-run" }]));
      const read = async (id: string) => (await h.call<FlowRun>("GET", `/flow_runs/${id}`)).body;

      const cancelled = await flowRun("to-cancel", { type: "RUNNING" });
      await trigger("test.cancel", cancelled);
      expect((await read(cancelled.id)).state?.type).toMatch(/CANCELL(ING|ED)/);

      const suspended = await flowRun("to-suspend", { type: "RUNNING" });
      await trigger("test.suspend", suspended);
      const paused = await read(suspended.id);
      expect(paused.state?.type).toBe("PAUSED");
      expect(paused.state?.name).toBe("Suspended");
      await trigger("test.resume", suspended);
      expect((await read(suspended.id)).state?.type).toBe("SCHEDULED");

      const failed = await flowRun("to-fail", { type: "RUNNING" });
      await trigger("test.fail", failed);
      const state = (await read(failed.id)).state;
      expect(state).toMatchObject({ type: "FAILED", name: "Stopped", message: "test.fail stopped to-fail" });

      const deleted = await flowRun("to-delete", { type: "COMPLETED" });
      await trigger("test.delete", deleted);
      expect((await h.call("GET", `/flow_runs/${deleted.id}`)).status).toBe(404);
    });

    it("pauses and resumes deployments, work pools, work queues and automations, selected or inferred", async () => {
      const deploymentId = await h.deployment("pausable");
      const pool = (await h.call<{ id: string; name: string }>("POST", "/work_pools/", { name: "pausable-pool", type: "process" })).body;
      const queue = (await h.call<{ id: string }>("POST", `/work_pools/${pool.name}/queues`, { name: "q1" })).body;
      const target = await h.automation(onEvent("test.never-fires", [{ type: "do-nothing" }]));
      await h.automation(
        onEvent("test.pause-all", [
          { type: "pause-deployment", source: "inferred" },
          { type: "pause-work-pool", work_pool_id: pool.id },
          { type: "pause-work-queue", source: "inferred" },
          { type: "pause-automation", automation_id: target.id },
        ]),
      );
      await h.automation(
        onEvent("test.resume-all", [
          { type: "resume-deployment", deployment_id: deploymentId },
          { type: "resume-work-pool", source: "inferred" },
          { type: "resume-work-queue", work_queue_id: queue.id },
          { type: "resume-automation", source: "inferred" },
        ]),
      );
      const run = await flowRun("pauser", { type: "RUNNING" });
      const related = [
        { "prefect.resource.id": `prefect.deployment.${deploymentId}`, "prefect.resource.role": "deployment" },
        { "prefect.resource.id": `prefect.work-queue.${queue.id}`, "prefect.resource.role": "work-queue" },
        { "prefect.resource.id": `prefect.work-pool.${pool.id}`, "prefect.resource.role": "work-pool" },
        { "prefect.resource.id": `prefect.automation.${target.id}`, "prefect.resource.role": "automation" },
      ];
      const state = async () => ({
        deployment: (await h.call<{ paused: boolean }>("GET", `/deployments/${deploymentId}`)).body.paused,
        pool: (await h.call<{ is_paused: boolean }>("GET", `/work_pools/${pool.name}`)).body.is_paused,
        queue: (await h.call<{ is_paused: boolean }>("GET", `/work_queues/${queue.id}`)).body.is_paused,
        automation: (await h.call<{ enabled: boolean }>("GET", `/automations/${target.id}`)).body.enabled,
      });
      await trigger("test.pause-all", run, related);
      expect(await state()).toEqual({ deployment: true, pool: true, queue: true, automation: false });
      await trigger("test.resume-all", run, related);
      expect(await state()).toEqual({ deployment: false, pool: false, queue: false, automation: true });
    });

    it("reports an action that cannot be done as prefect.automation.action.failed with the reason, and goes on with the next", async () => {
      const missing = "33333333-3333-4333-8333-333333333333";
      const hook = await block("webhook", "failing-hook", { url: `${http.url}/fail` });
      const automation = await h.automation(
        onEvent("test.broken", [
          { type: "run-deployment", deployment_id: missing },
          { type: "cancel-flow-run" },
          { type: "call-webhook", block_document_id: hook, payload: "x" },
          { type: "do-nothing" },
        ]),
      );
      await h.emit("test.broken", "test.not-a-flow-run");
      await h.settle();
      const resource = `prefect.automation.${automation.id}`;
      const failed = await h.events("prefect.automation.action.failed", resource, 3);
      const reasons = Object.fromEntries(failed.map((e) => [e.payload.action_type as string, e.payload.reason as string]));
      expect(reasons["run-deployment"]).toMatch(/404/);
      expect(reasons["cancel-flow-run"]).toBe("no flow run could be inferred from the triggering event");
      expect(reasons["call-webhook"]).toMatch(/HTTP 500/);
      const executed = await h.events("prefect.automation.action.executed", resource, 1);
      expect(executed.map((e) => e.payload.action_type)).toEqual(["do-nothing"]);
    });
  });
}
