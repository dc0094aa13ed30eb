import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configure, flow, getRunLogger, MissingContextError, task, type Log } from "@baton/sdk";
import { startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

function logsOf(flowRunId: string): Promise<Log[]> {
  return t.client.filterLogs({ logs: { flow_run_id: { any_: [flowRunId] } }, sort: "TIMESTAMP_ASC", limit: 200 });
}

describe("run logs", () => {
  it("getRunLogger() records reach /api/logs/filter with run ids and Python levels, flushed at run end", async () => {
    const work = task(function work() {
      getRunLogger().warning("inside the task %s", "work");
      return 1;
    });
    const logged = flow(async function logged() {
      const logger = getRunLogger();
      logger.info("hello from the flow");
      logger.error("something looks off: %o", { code: 7 });
      logger.critical("very bad");
      await work();
    });
    const outcome = await logged.run();
    // No wait: the engine flushes the flow run's logs before the call returns.
    const logs = await logsOf(outcome.flowRun.id);
    const byMessage = (text: string) => logs.find((l) => l.message.includes(text));

    expect(byMessage("hello from the flow")).toMatchObject({ level: 20, task_run_id: null, name: "baton.flow_runs" });
    expect(byMessage("something looks off")?.level).toBe(40);
    expect(byMessage("something looks off")?.message).toContain("code: 7");
    expect(byMessage("very bad")?.level).toBe(50);
    const taskLog = byMessage("inside the task work");
    expect(taskLog?.level).toBe(30);
    expect(taskLog?.name).toBe("baton.task_runs");
    expect(taskLog?.task_run_id).toBeTruthy();
    expect(taskLog?.flow_run_id).toBe(outcome.flowRun.id);
    // The engine's own records are there too.
    expect(byMessage("Finished in state Completed()")).toBeDefined();
  });

  it("sends debug records only when the log level is debug", async () => {
    const chatty = flow(function chatty() {
      getRunLogger().debug("fine detail");
      getRunLogger().info("summary");
    });
    const quiet = await chatty.run();
    expect((await logsOf(quiet.flowRun.id)).some((l) => l.message === "fine detail")).toBe(false);

    configure({ logLevel: "debug" });
    try {
      const loud = await chatty.run();
      expect((await logsOf(loud.flowRun.id)).find((l) => l.message === "fine detail")?.level).toBe(10);
    } finally {
      configure({ logLevel: null });
    }
  });

  it("ships many records in batches", async () => {
    const many = flow(function many() {
      const logger = getRunLogger();
      for (let i = 0; i < 250; i++) logger.info(`record ${i}`);
    });
    const outcome = await many.run();
    const logs = await t.client.filterLogs({
      logs: { flow_run_id: { any_: [outcome.flowRun.id] }, text: { query: "record" } },
      limit: 200,
      offset: 0,
    });
    const rest = await t.client.filterLogs({
      logs: { flow_run_id: { any_: [outcome.flowRun.id] }, text: { query: "record" } },
      limit: 200,
      offset: 200,
    });
    expect(logs.length + rest.length).toBe(250);
  });

  it("getRunLogger() outside a run throws MissingContextError", () => {
    expect(() => getRunLogger()).toThrow(MissingContextError);
  });
});

describe("logPrints", () => {
  it("captures console output inside runs with logPrints, tasks inheriting it, and not elsewhere", async () => {
    const printing = task(function printing() {
      console.log("printed in a task");
    });
    const capturing = flow({ name: "capturing", logPrints: true }, async function capturing() {
      console.log("printed in the flow", 42);
      console.warn("warned in the flow");
      await printing();
    });
    const notCapturing = flow({ name: "not-capturing" }, function notCapturing() {
      console.log("not captured");
    });

    const captured = await capturing.run();
    const logs = await logsOf(captured.flowRun.id);
    expect(logs.find((l) => l.message === "printed in the flow 42")).toMatchObject({ level: 20, task_run_id: null });
    expect(logs.find((l) => l.message === "warned in the flow")?.level).toBe(30);
    const fromTask = logs.find((l) => l.message === "printed in a task");
    expect(fromTask?.task_run_id).toBeTruthy();

    const plain = await notCapturing.run();
    expect((await logsOf(plain.flowRun.id)).some((l) => l.message === "not captured")).toBe(false);
  });
});
