import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { EventPage, FlowRun, ReceivedEvent, TaskRun } from "@baton/core";
import { createServices } from "@baton/server";
import { DIALECTS, eventually, startTestServer, type TestServer } from "./harness.js";

const quiet = { info: () => undefined, warn: () => undefined, error: () => undefined, debug: () => undefined };

for (const dialect of DIALECTS) {
  describe(`events of state changes (${dialect})`, () => {
    let server: TestServer;
    let flowId: string;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "emitting-flow", tags: ["flow-tag"] })).body.id;
    });
    afterAll(() => server.close());

    /** The stored events about a resource, oldest first, once there are `count` of them. */
    const eventsAbout = async (resourceId: string, count: number, names?: string[]): Promise<ReceivedEvent[]> => {
      let events: ReceivedEvent[] = [];
      const filter = { filter: { resource: { id: [resourceId] }, order: "ASC", ...(names ? { event: { name: names } } : {}) }, limit: 50 };
      await eventually(async () => {
        events = (await server.call<EventPage>("POST", "/events/filter", filter)).body.events;
        return events.length >= count;
      }, 10_000, `${count} events about ${resourceId}`);
      return events;
    };

    it("a flow run's state changes are prefect.flow-run.<State> events with Prefect's labels, related resources and payload", async () => {
      const run = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, name: "emitting-run", tags: ["run-tag"], state: { type: "PENDING" } })).body;
      const running = await server.call<{ state: { id: string } }>("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "RUNNING", name: "Running" } });
      const completed = await server.call<{ state: { id: string } }>("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "COMPLETED", message: "all done" } });

      const events = await eventsAbout(`prefect.flow-run.${run.id}`, 3);
      expect(events.map((e) => e.event)).toEqual(["prefect.flow-run.Pending", "prefect.flow-run.Running", "prefect.flow-run.Completed"]);
      const [pending, runningEvent, done] = events as [ReceivedEvent, ReceivedEvent, ReceivedEvent];
      expect(pending.id).toBe(run.state!.id);
      expect(runningEvent.id).toBe(running.body.state.id);
      expect(done.id).toBe(completed.body.state.id);
      expect(done.follows).toBe(runningEvent.id);
      expect(done.resource).toEqual({
        "prefect.resource.id": `prefect.flow-run.${run.id}`,
        "prefect.resource.name": "emitting-run",
        "prefect.run-count": "1",
        "prefect.state-message": "all done",
        "prefect.state-name": "Completed",
        "prefect.state-timestamp": done.occurred,
        "prefect.state-type": "COMPLETED",
      });
      expect(done.related).toEqual([
        { "prefect.resource.id": `prefect.flow.${flowId}`, "prefect.resource.role": "flow", "prefect.resource.name": "emitting-flow" },
        { "prefect.resource.id": "prefect.tag.flow-tag", "prefect.resource.role": "tag" },
        { "prefect.resource.id": "prefect.tag.run-tag", "prefect.resource.role": "tag" },
      ]);
      expect(done.payload).toEqual({
        intended: { from: "RUNNING", to: "COMPLETED" },
        initial_state: { type: "RUNNING", name: "Running" },
        validated_state: { type: "COMPLETED", name: "Completed", message: "all done" },
      });
      expect(pending.payload.intended).toEqual({ from: null, to: "PENDING" });
    });

    it("server-orchestrated task runs emit prefect.task-run.<State>, related to their flow run and flow", async () => {
      const run = (await server.call<FlowRun>("POST", "/flow_runs/", { flow_id: flowId, name: "task-parent" })).body;
      const task = (await server.call<TaskRun>("POST", "/task_runs/", { flow_run_id: run.id, task_key: "t", dynamic_key: "0", name: "t-0", tags: ["db"] })).body;
      await server.call("POST", `/task_runs/${task.id}/set_state`, { state: { type: "RUNNING" } });
      const events = await eventsAbout(`prefect.task-run.${task.id}`, 2);
      expect(events.map((e) => e.event)).toEqual(["prefect.task-run.Pending", "prefect.task-run.Running"]);
      expect(events[1]!.related).toEqual([
        { "prefect.resource.id": `prefect.flow-run.${run.id}`, "prefect.resource.role": "flow-run", "prefect.resource.name": "task-parent" },
        { "prefect.resource.id": `prefect.flow.${flowId}`, "prefect.resource.role": "flow", "prefect.resource.name": "emitting-flow" },
        { "prefect.resource.id": "prefect.tag.db", "prefect.resource.role": "tag" },
        { "prefect.resource.id": "prefect.tag.flow-tag", "prefect.resource.role": "tag" },
      ]);
    });

    it("work pools, queues, deployments and workers emit ready / not-ready / paused / online / offline", async () => {
      const pool = (await server.call<{ id: string; default_queue_id: string }>("POST", "/work_pools/", { name: "emit-pool", type: "process" })).body;
      const deployment = (await server.call<{ id: string }>("POST", "/deployments/", { flow_id: flowId, name: "emit-dep", work_pool_name: "emit-pool" })).body;
      const run = (await server.call<FlowRun>("POST", `/deployments/${deployment.id}/create_flow_run`, {})).body;

      // A poll makes pool, queue and deployment ready; a second poll changes nothing.
      expect((await server.call("POST", "/work_pools/emit-pool/get_scheduled_flow_runs", {})).status).toBe(200);
      expect((await server.call("POST", "/work_pools/emit-pool/get_scheduled_flow_runs", {})).status).toBe(200);
      expect((await server.call("POST", "/work_pools/emit-pool/workers/heartbeat", { name: "w1", heartbeat_interval_seconds: 30 })).status).toBe(204);
      expect((await server.call("POST", "/work_pools/emit-pool/workers/heartbeat", { name: "w1", heartbeat_interval_seconds: 30 })).status).toBe(204);

      const [poolReady] = await eventsAbout(`prefect.work-pool.${pool.id}`, 1);
      expect(poolReady).toMatchObject({ event: "prefect.work-pool.ready", resource: { "prefect.resource.name": "emit-pool", "prefect.work-pool.type": "process" } });
      const [queueReady] = await eventsAbout(`prefect.work-queue.${pool.default_queue_id}`, 1);
      expect(queueReady).toMatchObject({ event: "prefect.work-queue.ready", resource: { "prefect.resource.name": "default" } });
      expect(queueReady!.related).toEqual([{ "prefect.resource.id": `prefect.work-pool.${pool.id}`, "prefect.resource.name": "emit-pool", "prefect.work-pool.type": "process", "prefect.resource.role": "work-pool" }]);
      const [deploymentReady] = await eventsAbout(`prefect.deployment.${deployment.id}`, 1);
      expect(deploymentReady!.event).toBe("prefect.deployment.ready");
      expect(deploymentReady!.related.map((r) => r["prefect.resource.role"])).toEqual(["flow", "work-queue", "work-pool"]);
      const [online] = await eventsAbout("prefect.worker.process.w1", 1);
      expect(online!.event).toBe("prefect.worker.online");

      // The deployment's run relates to the deployment, queue and pool.
      const [scheduled] = await eventsAbout(`prefect.flow-run.${run.id}`, 1);
      expect(scheduled!.related.map((r) => r["prefect.resource.role"])).toEqual(["flow", "deployment", "work-queue", "work-pool", "tag"]);

      await server.call("PATCH", "/work_pools/emit-pool", { is_paused: true });
      await server.call("PATCH", "/work_pools/emit-pool/queues/default", { is_paused: true });

      // Much later nothing polled: the foreman demotes what is left, each once.
      const later = new Date(Date.now() + 3600_000);
      const [foreman] = createServices({ db: server.db, config: server.config, events: server.events, clock: { now: () => later }, logger: quiet }, ["foreman"]);
      await foreman!.runOnce();
      await foreman!.runOnce();
      const poolEvents = await eventsAbout(`prefect.work-pool.${pool.id}`, 2);
      expect(poolEvents.map((e) => e.event)).toEqual(["prefect.work-pool.ready", "prefect.work-pool.paused"]);
      const queueEvents = await eventsAbout(`prefect.work-queue.${pool.default_queue_id}`, 2);
      expect(queueEvents.map((e) => e.event)).toEqual(["prefect.work-queue.ready", "prefect.work-queue.paused"]);
      expect((await eventsAbout(`prefect.deployment.${deployment.id}`, 2)).map((e) => e.event)).toEqual(["prefect.deployment.ready", "prefect.deployment.not-ready"]);
      expect((await eventsAbout("prefect.worker.process.w1", 2)).map((e) => e.event)).toEqual(["prefect.worker.online", "prefect.worker.offline"]);
    });
  });
}
