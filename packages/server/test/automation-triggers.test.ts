import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FlowRun } from "@baton/core";
import { database, Harness, MovableClock, type Db } from "./automation-harness.js";
import { DIALECTS } from "./harness.js";

for (const dialect of DIALECTS) {
  describe(`automation triggers on ${dialect}`, () => {
    let db: Db;
    let h: Harness;
    beforeAll(async () => {
      db = database(dialect);
      h = await Harness.start(db);
    });
    afterAll(async () => {
      await h.server.close();
      await db.cleanup();
    });

    it("runs a deployment within a second of a flow run crashing, with the run's name rendered into its parameters", async () => {
      const target = await h.deployment("on-crash");
      const automation = await h.automation({
        name: "rerun crashed",
        trigger: { posture: "Reactive", expect: ["prefect.flow-run.Crashed"], match: { "prefect.resource.id": "prefect.flow-run.*" } },
        actions: [{ type: "run-deployment", deployment_id: target, parameters: { reason: "{{ flow_run.name }} crashed", state: { __prefect_kind: "jinja", template: "{{ event.event }}" } } }],
      });
      const flow = (await h.call<{ id: string }>("POST", "/flows/", { name: "crashy" })).body;
      const run = (await h.call<FlowRun>("POST", "/flow_runs/", { flow_id: flow.id, name: "brave-otter", state: { type: "RUNNING" } })).body;
      // The state change itself emits prefect.flow-run.Crashed; nothing else is sent.
      const started = performance.now();
      const crashed = await h.call<{ status: string }>("POST", `/flow_runs/${run.id}/set_state`, { state: { type: "CRASHED", message: "process died" } });
      expect(crashed.body.status).toBe("ACCEPT");
      let runs: FlowRun[] = [];
      while (runs.length === 0 && performance.now() - started < 1000) {
        runs = await h.runsOf(target);
        if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      }
      const elapsed = performance.now() - started;
      expect(runs).toHaveLength(1);
      expect(elapsed).toBeLessThan(1000);
      expect(runs[0]!.parameters).toEqual({ reason: "brave-otter crashed", state: "prefect.flow-run.Crashed" });
      expect(runs[0]!.state?.type).toBe("SCHEDULED");
      await h.settle();
      const resource = `prefect.automation.${automation.id}`;
      expect((await h.events("prefect.automation.triggered", resource, 1)).length).toBe(1);
      const executed = await h.events("prefect.automation.action.executed", resource, 1);
      expect(executed).toHaveLength(1);
      expect(executed[0]!.payload).toMatchObject({ action_index: 0, action_type: "run-deployment" });
      expect(executed[0]!.related.map((r) => r["prefect.resource.id"])).toContain(`prefect.flow-run.${runs[0]!.id}`);
      // Another kind of event, or another resource, does not trigger it.
      await h.emit("prefect.flow-run.Completed", `prefect.flow-run.${run.id}`);
      await h.emit("prefect.flow-run.Crashed", "prefect.task-run.x");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(1);
    });

    it("fires a proactive trigger when no expected event arrived within its window, and not when one did", async () => {
      const quiet = await h.deployment("on-silence");
      const heard = await h.deployment("on-silence-heard");
      const proactive = (name: string, resource: string, target: string) => ({
        name,
        trigger: { posture: "Proactive", expect: ["test.heartbeat"], match: { "prefect.resource.id": resource }, within: 30, threshold: 1 },
        actions: [{ type: "run-deployment", deployment_id: target }],
      });
      await h.automation(proactive("silent", "test.machine.quiet", quiet));
      await h.automation(proactive("talkative", "test.machine.loud", heard));
      await h.settle();
      await h.triggers.runOnce();
      h.clock.advance(10);
      await h.emit("test.heartbeat", "test.machine.loud");
      await h.settle();
      await h.triggers.runOnce();
      expect(await h.runsOf(quiet)).toHaveLength(0);
      h.clock.advance(21);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(quiet)).toHaveLength(1);
      expect(await h.runsOf(heard)).toHaveLength(0);
      // The next window starts where the last ended; it fires again only once it too has passed.
      h.clock.advance(10);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(quiet)).toHaveLength(1);
      h.clock.advance(25);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(quiet)).toHaveLength(2);
      // The heard machine's satisfied window was dropped; its next one opened at the next pass.
      expect(await h.runsOf(heard)).toHaveLength(0);
      h.clock.advance(31);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(quiet)).toHaveLength(3);
      expect(await h.runsOf(heard)).toHaveLength(1);
    });

    it("fires a compound trigger once when all of its parts have fired, then collects them afresh", async () => {
      const target = await h.deployment("on-both");
      await h.automation({
        name: "both",
        trigger: {
          type: "compound",
          require: "all",
          within: 3600,
          triggers: [
            { posture: "Reactive", expect: ["test.part.a"] },
            { posture: "Reactive", expect: ["test.part.b"] },
          ],
        },
        actions: [{ type: "run-deployment", deployment_id: target }],
      });
      await h.emit("test.part.a", "test.thing.1");
      await h.emit("test.part.a", "test.thing.1");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(0);
      await h.emit("test.part.b", "test.thing.1");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(1);
      await h.emit("test.part.b", "test.thing.1");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(1);
      await h.emit("test.part.a", "test.thing.1");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(2);
    });

    it("fires a compound trigger that requires any one of its parts at the first, and one that requires 2 of 3 at the second", async () => {
      const any = await h.deployment("on-any");
      const two = await h.deployment("on-two");
      const parts = ["x", "y", "z"].map((p) => ({ posture: "Reactive", expect: [`test.any.${p}`] }));
      await h.automation({ name: "any", trigger: { type: "compound", require: "any", within: null, triggers: parts }, actions: [{ type: "run-deployment", deployment_id: any }] });
      await h.automation({ name: "two", trigger: { type: "compound", require: 2, within: null, triggers: parts }, actions: [{ type: "run-deployment", deployment_id: two }] });
      await h.emit("test.any.y", "test.thing.2");
      await h.settle();
      expect(await h.runsOf(any)).toHaveLength(1);
      expect(await h.runsOf(two)).toHaveLength(0);
      await h.emit("test.any.z", "test.thing.2");
      await h.settle();
      expect(await h.runsOf(any)).toHaveLength(2);
      expect(await h.runsOf(two)).toHaveLength(1);
    });

    it("fires a sequence trigger only when its parts fire in order", async () => {
      const target = await h.deployment("on-sequence");
      await h.automation({
        name: "in order",
        trigger: { type: "sequence", within: 3600, triggers: [{ posture: "Reactive", expect: ["test.seq.first"] }, { posture: "Reactive", expect: ["test.seq.second"] }] },
        actions: [{ type: "run-deployment", deployment_id: target }],
      });
      await h.emit("test.seq.second", "test.thing.3");
      await h.emit("test.seq.first", "test.thing.3");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(0);
      await h.emit("test.seq.second", "test.thing.3");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(1);
    });

    it("counts to a threshold within a window, separately for each value of for_each", async () => {
      const target = await h.deployment("on-three");
      await h.automation({
        name: "three failures per flow",
        trigger: { posture: "Reactive", expect: ["test.failure"], for_each: ["prefect.resource.id"], threshold: 3, within: 60 },
        actions: [{ type: "run-deployment", deployment_id: target, parameters: { reason: "{{ labels['prefect.resource.id'] }}" } }],
      });
      for (let i = 0; i < 2; i++) await h.emit("test.failure", "test.flow.a");
      for (let i = 0; i < 2; i++) await h.emit("test.failure", "test.flow.b");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(0);
      await h.emit("test.failure", "test.flow.b");
      await h.settle();
      const runs = await h.runsOf(target);
      expect(runs.map((r) => r.parameters.reason)).toEqual(["test.flow.b"]);
    });

    it("starts counting only after an `after` event", async () => {
      const target = await h.deployment("on-after");
      await h.automation({
        name: "completed after started",
        trigger: { posture: "Reactive", after: ["test.job.started"], expect: ["test.job.finished"], for_each: ["prefect.resource.id"], within: 60 },
        actions: [{ type: "run-deployment", deployment_id: target }],
      });
      await h.emit("test.job.finished", "test.job.1");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(0);
      await h.emit("test.job.started", "test.job.1");
      await h.emit("test.job.finished", "test.job.1");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(1);
    });

    it("ignores a disabled automation, and acts again once it is enabled", async () => {
      const target = await h.deployment("on-enabled");
      const automation = await h.automation({ name: "toggled", trigger: { posture: "Reactive", expect: ["test.toggle"] }, actions: [{ type: "run-deployment", deployment_id: target }] });
      expect((await h.call("PATCH", `/automations/${automation.id}`, { enabled: false })).status).toBe(204);
      await h.emit("test.toggle", "test.thing.4");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(0);
      expect((await h.call("PATCH", `/automations/${automation.id}`, { enabled: true })).status).toBe(204);
      await h.emit("test.toggle", "test.thing.4");
      await h.settle();
      expect(await h.runsOf(target)).toHaveLength(1);
    });
  });

  describe(`automation trigger state across a restart on ${dialect}`, () => {
    it("keeps a reactive count and a proactive window through a server restart", async () => {
      const db = database(dialect);
      const clock = new MovableClock();
      let h = await Harness.start(db, clock);
      try {
        const counted = await h.deployment("after-restart-count");
        const silent = await h.deployment("after-restart-silence");
        await h.automation({ name: "two in an hour", trigger: { posture: "Reactive", expect: ["test.restart"], threshold: 2, within: 3600 }, actions: [{ type: "run-deployment", deployment_id: counted }] });
        await h.automation({ name: "quiet for a minute", trigger: { posture: "Proactive", expect: ["test.never"], within: 60 }, actions: [{ type: "run-deployment", deployment_id: silent }] });
        await h.emit("test.restart", "test.thing.5");
        await h.settle();
        await h.triggers.runOnce();
        await h.server.close();

        clock.advance(61);
        h = await Harness.start(db, clock);
        await h.emit("test.restart", "test.thing.5");
        await h.settle();
        expect(await h.runsOf(counted)).toHaveLength(1);
        // The proactive window opened before the restart, and closed while the server was down.
        await h.triggers.runOnce();
        await h.settle();
        expect(await h.runsOf(silent)).toHaveLength(1);
      } finally {
        await h.server.close();
        await db.cleanup();
      }
    });
  });
}
