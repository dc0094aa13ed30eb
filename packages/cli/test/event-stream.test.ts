import { randomUUID } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, runCli, spawnCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
});

afterAll(async () => {
  await t?.close();
});

const event = (name: string, resource: string) => ({ id: randomUUID(), occurred: new Date().toISOString(), event: name, resource: { "prefect.resource.id": resource, "prefect.resource.name": "thing" } });

describe("baton event stream", () => {
  it("prints matching events as they happen until interrupted, with --backfill the stored ones first", async () => {
    const old = event("baton.cli.old", "baton.cli.r");
    await t.client.request("POST", "/events", [old]);
    // Persisted off the request: wait until it is stored.
    for (let i = 0; i < 100; i++) {
      const page = await t.client.request<{ total: number }>("POST", "/events/filter", { filter: { id: { id: [old.id] } } });
      if (page.total === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const cli = spawnCli(["event", "stream", "--backfill", "--filter", JSON.stringify({ event: { prefix: ["baton.cli."] } })], env);
    await cli.waitForStdout("baton.cli.old");
    await t.client.request("POST", "/events", [event("baton.other.x", "baton.cli.r"), event("baton.cli.new", "baton.cli.r")]);
    await cli.waitForStdout("baton.cli.new");
    cli.child.kill("SIGINT");
    const result = await cli.result;
    expect(result.code).toBe(0);
    const printed = lines(result.stdout);
    expect(printed).toHaveLength(2);
    expect(printed[0]).toMatch(/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} \| baton\.cli\.old \| baton\.cli\.r \(thing\)$/);
    expect(printed[1]).toContain("| baton.cli.new |");
  });

  it("--json prints each event as a line of JSON", async () => {
    const cli = spawnCli(["event", "stream", "--json", "--filter", '{"event": {"name": ["baton.json.one"]}}'], env);
    // The CLI prints nothing until an event comes: send one every 300 ms until it has subscribed.
    const sent: string[] = [];
    const sender = setInterval(() => {
      const e = event("baton.json.one", "baton.json.r");
      sent.push(e.id);
      void t.client.request("POST", "/events", [e]);
    }, 300);
    await cli.waitForStdout("baton.json.one").finally(() => clearInterval(sender));
    cli.child.kill("SIGTERM");
    const result = await cli.result;
    const parsed = JSON.parse(lines(result.stdout)[0]!) as { id: string; received: string };
    expect(sent).toContain(parsed.id);
    expect(typeof parsed.received).toBe("string");
  });

  it("a bad --filter is a usage error naming the field", async () => {
    const notJson = await runCli(["event", "stream", "--filter", "{nope"], env);
    expect(notJson.code).toBe(2);
    expect(notJson.stderr).toMatch(/--filter is not JSON/);
    const badLabel = await runCli(["event", "stream", "--filter", '{"resource": {"labels": {"a": 1}}}'], env);
    expect(badLabel.code).toBe(2);
    expect(badLabel.stderr).toMatch(/--filter: resource\.labels\.a/);
  });

  it("an unreachable server exits 1 with its URL", async () => {
    const result = await runCli(["event", "stream"], { BATON_API_URL: "http://127.0.0.1:9/api" });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain("ws://127.0.0.1:9/api/events/out");
  });
});

describe("baton flow-run logs --follow through logs/out", () => {
  it("prints a new log well within the polling interval (it is pushed, not polled)", async () => {
    const flow = await t.client.createFlow({ name: "streamed" });
    const run = await t.client.createFlowRun({ flow_id: flow.id, state: { type: "RUNNING" } });
    const cli = spawnCli(["flow-run", "logs", run.id, "--follow"], env);
    await t.client.createLogs([{ name: "x", level: 20, message: "first line", timestamp: new Date().toISOString(), flow_run_id: run.id }]);
    await cli.waitForStdout("first line");
    const sent = Date.now();
    await t.client.createLogs([{ name: "x", level: 20, message: "pushed line", timestamp: new Date().toISOString(), flow_run_id: run.id }]);
    await cli.waitForStdout("pushed line");
    // The polling fallback waits a second between reads.
    expect(Date.now() - sent).toBeLessThan(700);
    await t.client.setFlowRunState(run.id, { type: "COMPLETED" });
    const result = await cli.result;
    expect(result.code).toBe(0);
    expect(lines(result.stdout).map((l) => l.slice(l.indexOf(" - ") + 3))).toEqual(["first line", "pushed line"]);
  });
});
