import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { database, Harness, MovableClock, type Db } from "./automation-harness.js";
import { DIALECTS } from "./harness.js";

/** An automation that runs one deployment when it triggers and another when it resolves. */
function onBoth(name: string, trigger: Record<string, unknown>, triggered: string, resolved: string): Record<string, unknown> {
  return {
    name,
    trigger,
    actions: [],
    actions_on_trigger: [{ type: "run-deployment", deployment_id: triggered }],
    actions_on_resolve: [{ type: "run-deployment", deployment_id: resolved, parameters: { reason: "{{ event.event }}" } }],
  };
}

const heartbeat = (resource: string, within = 30) => ({ posture: "Proactive", expect: ["test.heartbeat"], match: { "prefect.resource.id": resource }, within, threshold: 1 });

for (const dialect of DIALECTS) {
  describe(`automation resolution on ${dialect}`, () => {
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

    it("resolves a proactive trigger when the expected event comes back, running the resolve actions once", async () => {
      const down = await h.deployment("resolve-proactive-down");
      const up = await h.deployment("resolve-proactive-up");
      const automation = await h.automation(onBoth("heartbeat lost", heartbeat("test.machine.flaky"), down, up));
      await h.triggers.runOnce();
      h.clock.advance(31);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(down)).toHaveLength(1);
      expect(await h.runsOf(up)).toHaveLength(0);

      await h.emit("test.heartbeat", "test.machine.flaky");
      await h.settle();
      const resolvedRuns = await h.runsOf(up);
      expect(resolvedRuns).toHaveLength(1);
      // The resolve actions see the automation's own state-change event as their triggering event.
      expect(resolvedRuns[0]!.parameters).toEqual({ reason: "prefect.automation.resolved" });
      const resource = `prefect.automation.${automation.id}`;
      const resolved = await h.events("prefect.automation.resolved", resource, 1);
      expect(resolved).toHaveLength(1);
      expect((resolved[0]!.payload.triggering_event as { event: string }).event).toBe("test.heartbeat");
      expect(await h.events("prefect.automation.triggered", resource, 1)).toHaveLength(1);

      // More heartbeats, and windows that have them, resolve nothing more and trigger nothing.
      await h.emit("test.heartbeat", "test.machine.flaky");
      await h.settle();
      h.clock.advance(31);
      await h.emit("test.heartbeat", "test.machine.flaky");
      await h.settle();
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(up)).toHaveLength(1);
      expect(await h.runsOf(down)).toHaveLength(1);

      // Silence again (a satisfied window is dropped, the next opens at the next pass): it
      // triggers again, and resolves again when the heartbeat returns.
      h.clock.advance(31);
      await h.triggers.runOnce();
      h.clock.advance(31);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(down)).toHaveLength(2);
      await h.emit("test.heartbeat", "test.machine.flaky");
      await h.settle();
      expect(await h.runsOf(up)).toHaveLength(2);
    });

    it("keeps a proactive trigger Triggered while silence lasts, firing each window but resolving only once", async () => {
      const down = await h.deployment("resolve-long-down");
      const up = await h.deployment("resolve-long-up");
      await h.automation(onBoth("long silence", heartbeat("test.machine.gone"), down, up));
      await h.triggers.runOnce();
      for (let i = 0; i < 3; i++) {
        h.clock.advance(31);
        await h.triggers.runOnce();
      }
      await h.settle();
      expect(await h.runsOf(down)).toHaveLength(3);
      await h.emit("test.heartbeat", "test.machine.gone");
      await h.emit("test.heartbeat", "test.machine.gone");
      await h.settle();
      expect(await h.runsOf(up)).toHaveLength(1);
    });

    it("resolves a proactive `after` trigger at the first expected event for its key", async () => {
      const late = await h.deployment("resolve-after-late");
      const done = await h.deployment("resolve-after-done");
      await h.automation(
        onBoth(
          "job too slow",
          { posture: "Proactive", after: ["test.job.begun"], expect: ["test.job.ended"], for_each: ["prefect.resource.id"], within: 30, threshold: 1 },
          late,
          done,
        ),
      );
      await h.emit("test.job.begun", "test.job.slow");
      await h.emit("test.job.begun", "test.job.quick");
      await h.settle();
      h.clock.advance(5);
      await h.emit("test.job.ended", "test.job.quick");
      await h.settle();
      h.clock.advance(30);
      await h.triggers.runOnce();
      await h.settle();
      const lateRuns = await h.runsOf(late);
      expect(lateRuns).toHaveLength(1);
      expect(await h.runsOf(done)).toHaveLength(0);
      await h.emit("test.job.ended", "test.job.slow");
      await h.settle();
      expect(await h.runsOf(done)).toHaveLength(1);
    });

    it("resolves a reactive trigger with a threshold once a whole window passes without it firing again", async () => {
      const loud = await h.deployment("resolve-reactive-loud");
      const calm = await h.deployment("resolve-reactive-calm");
      await h.automation(onBoth("error burst", { posture: "Reactive", expect: ["test.error"], match: { "prefect.resource.id": "test.api.*" }, threshold: 2, within: 60 }, loud, calm));
      await h.emit("test.error", "test.api.a");
      await h.emit("test.error", "test.api.a");
      await h.settle();
      expect(await h.runsOf(loud)).toHaveLength(1);
      // The window it fired in ends 60s after its first event, the next one 60s after that.
      h.clock.advance(100);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(calm)).toHaveLength(0);
      h.clock.advance(25);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(calm)).toHaveLength(1);
      h.clock.advance(300);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(calm)).toHaveLength(1);
    });

    it("keeps a reactive trigger Triggered when it fires again in the next window", async () => {
      const loud = await h.deployment("resolve-again-loud");
      const calm = await h.deployment("resolve-again-calm");
      await h.automation(onBoth("steady errors", { posture: "Reactive", expect: ["test.glitch"], threshold: 2, within: 60 }, loud, calm));
      await h.emit("test.glitch", "test.api.b");
      await h.emit("test.glitch", "test.api.b");
      await h.settle();
      // Into the next window (it opened when the first closed, 60s on): enough again.
      h.clock.advance(70);
      await h.emit("test.glitch", "test.api.b");
      await h.emit("test.glitch", "test.api.b");
      await h.settle();
      expect(await h.runsOf(loud)).toHaveLength(2);
      h.clock.advance(60);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(calm)).toHaveLength(0);
      h.clock.advance(65);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(calm)).toHaveLength(1);
    });

    it("resolves a reactive trigger in between when a quiet window passed before its next firing, with no periodic pass in between", async () => {
      const loud = await h.deployment("resolve-between-loud");
      const calm = await h.deployment("resolve-between-calm");
      await h.automation(onBoth("bursts apart", { posture: "Reactive", expect: ["test.spike"], threshold: 2, within: 60 }, loud, calm));
      await h.emit("test.spike", "test.api.c");
      await h.emit("test.spike", "test.api.c");
      await h.settle();
      h.clock.advance(130);
      await h.emit("test.spike", "test.api.c");
      await h.emit("test.spike", "test.api.c");
      await h.settle();
      expect(await h.runsOf(loud)).toHaveLength(2);
      expect(await h.runsOf(calm)).toHaveLength(1);
      // Triggered again by the second burst: the next quiet window resolves it again.
      h.clock.advance(125);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(calm)).toHaveLength(2);
    });

    it("does not run resolve actions for triggers that never fired", async () => {
      const down = await h.deployment("never-down");
      const up = await h.deployment("never-up");
      const each = await h.deployment("never-each");
      const eachUp = await h.deployment("never-each-up");
      await h.automation(onBoth("always heard", heartbeat("test.machine.steady"), down, up));
      await h.automation(onBoth("below threshold", { posture: "Reactive", expect: ["test.rare"], threshold: 5, within: 30 }, down, up));
      const everyEvent = await h.automation(onBoth("every event", { posture: "Reactive", expect: ["test.each"] }, each, eachUp));
      await h.triggers.runOnce();
      for (let i = 0; i < 3; i++) {
        h.clock.advance(10);
        await h.emit("test.heartbeat", "test.machine.steady");
        await h.emit("test.rare", "test.thing.rare");
        await h.settle();
        h.clock.advance(21);
        await h.triggers.runOnce();
        await h.settle();
      }
      expect(await h.runsOf(down)).toHaveLength(0);
      expect(await h.runsOf(up)).toHaveLength(0);
      // A trigger without a window fires for every event and has nothing to resolve.
      await h.emit("test.each", "test.thing.each");
      await h.emit("test.each", "test.thing.each");
      await h.settle();
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(each)).toHaveLength(2);
      expect(await h.runsOf(eachUp)).toHaveLength(0);
      expect(await h.events("prefect.automation.triggered", `prefect.automation.${everyEvent.id}`, 2)).toHaveLength(2);
    });

    it("resolves a compound trigger when fewer of its parts than it requires are still Triggered", async () => {
      const down = await h.deployment("resolve-compound-down");
      const up = await h.deployment("resolve-compound-up");
      await h.automation(
        onBoth("both silent", { type: "compound", require: "all", within: 3600, triggers: [heartbeat("test.machine.left"), heartbeat("test.machine.right")] }, down, up),
      );
      await h.triggers.runOnce();
      h.clock.advance(31);
      await h.triggers.runOnce();
      await h.settle();
      expect(await h.runsOf(down)).toHaveLength(1);
      await h.emit("test.heartbeat", "test.machine.left");
      await h.settle();
      expect(await h.runsOf(up)).toHaveLength(1);
      await h.emit("test.heartbeat", "test.machine.right");
      await h.settle();
      expect(await h.runsOf(up)).toHaveLength(1);
    });
  });

  describe(`automation resolution across a restart on ${dialect}`, () => {
    it("resolves a proactive and a reactive trigger that fired before the server restarted", async () => {
      const db = database(dialect);
      const clock = new MovableClock();
      let h = await Harness.start(db, clock);
      try {
        const down = await h.deployment("restart-down");
        const up = await h.deployment("restart-up");
        const loud = await h.deployment("restart-loud");
        const calm = await h.deployment("restart-calm");
        await h.automation(onBoth("heartbeat across restart", heartbeat("test.machine.rebooted"), down, up));
        await h.automation(onBoth("burst across restart", { posture: "Reactive", expect: ["test.burst"], threshold: 2, within: 60 }, loud, calm));
        await h.triggers.runOnce();
        h.clock.advance(31);
        await h.triggers.runOnce();
        await h.emit("test.burst", "test.thing.burst");
        await h.emit("test.burst", "test.thing.burst");
        await h.settle();
        expect(await h.runsOf(down)).toHaveLength(1);
        expect(await h.runsOf(loud)).toHaveLength(1);
        await h.server.close();

        // Back within the window after the proactive firing: its heartbeat resolves it.
        clock.advance(10);
        h = await Harness.start(db, clock);
        await h.emit("test.heartbeat", "test.machine.rebooted");
        await h.settle();
        expect(await h.runsOf(up)).toHaveLength(1);
        expect(await h.runsOf(calm)).toHaveLength(0);
        await h.server.close();

        // The reactive trigger's quiet window ends while the server is down; the first pass after resolves it.
        clock.advance(111);
        h = await Harness.start(db, clock);
        await h.triggers.runOnce();
        await h.settle();
        expect(await h.runsOf(calm)).toHaveLength(1);
        expect(await h.runsOf(up)).toHaveLength(1);
        expect(await h.runsOf(down)).toHaveLength(1);
        expect(await h.runsOf(loud)).toHaveLength(1);
      } finally {
        await h.server.close();
        await db.cleanup();
      }
    });
  });
}
