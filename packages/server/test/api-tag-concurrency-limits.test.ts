import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { OrchestrationResult, TagConcurrencyLimit, TaskRun } from "@baton/core";
import { contractProperties } from "./contract-fields.js";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface Invalid {
  exception_message: string;
  detail?: string;
}

for (const dialect of DIALECTS) {
  describe(`tag concurrency limits (v1) on ${dialect}`, () => {
    let server: TestServer;
    let flowRunId: string;
    beforeAll(async () => {
      server = await startTestServer(dialect);
      const flow = (await server.call<{ id: string }>("POST", "/flows/", { name: "tagged-flow" })).body;
      flowRunId = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: flow.id, state: { type: "RUNNING" } })).body.id;
    });
    afterAll(() => server.close());

    let counter = 0;
    async function taskRun(tags: string[], policy: Record<string, unknown> = {}): Promise<string> {
      const { status, body } = await server.call<TaskRun>("POST", "/task_runs/", {
        flow_run_id: flowRunId,
        task_key: "tagged",
        dynamic_key: String(counter++),
        tags,
        empirical_policy: policy,
        state: { type: "PENDING" },
      });
      expect(status).toBe(201);
      return body.id;
    }
    const propose = async (id: string, state: Record<string, unknown>, force = false) =>
      (await server.call<OrchestrationResult>("POST", `/task_runs/${id}/set_state`, { state, force })).body;
    const limitOf = async (tag: string) => (await server.call<TagConcurrencyLimit>("GET", `/concurrency_limits/tag/${tag}`)).body;

    it("creates (or updates) a tag's limit, reads it by id and tag, lists, resets and deletes it", async () => {
      const created = await server.call<TagConcurrencyLimit>("POST", "/concurrency_limits/", { tag: "crud-tag", concurrency_limit: 2 });
      expect(created.status).toBe(200);
      expect(created.body).toMatchObject({ tag: "crud-tag", concurrency_limit: 2, active_slots: [] });
      const expected = contractProperties("ConcurrencyLimit");
      if (expected) expect(Object.keys(created.body).sort()).toEqual(expected);
      const again = await server.call<TagConcurrencyLimit>("POST", "/concurrency_limits/", { tag: "crud-tag", concurrency_limit: 4 });
      expect(again.body.id).toBe(created.body.id);
      expect(again.body.concurrency_limit).toBe(4);
      expect((await server.call<TagConcurrencyLimit>("GET", `/concurrency_limits/${created.body.id}`)).body.tag).toBe("crud-tag");
      const listed = await server.call<TagConcurrencyLimit[]>("POST", "/concurrency_limits/filter", {});
      expect(listed.body.map((l) => l.tag)).toContain("crud-tag");

      const holder = "0191a0c2-0000-7000-8000-0000000000aa";
      expect((await server.call("POST", "/concurrency_limits/tag/crud-tag/reset", { slot_override: [holder] })).status).toBe(200);
      expect((await limitOf("crud-tag")).active_slots).toEqual([holder]);
      expect((await server.call("POST", "/concurrency_limits/tag/crud-tag/reset", {})).status).toBe(200);
      expect((await limitOf("crud-tag")).active_slots).toEqual([]);

      expect((await server.call("DELETE", "/concurrency_limits/tag/crud-tag")).status).toBe(200);
      expect((await server.call("GET", "/concurrency_limits/tag/crud-tag")).status).toBe(404);
      expect((await server.call("DELETE", `/concurrency_limits/${created.body.id}`)).status).toBe(404);
      expect((await server.call("POST", "/concurrency_limits/tag/crud-tag/reset", {})).status).toBe(404);
    });

    it("refuses bad limits with a 422 naming the field", async () => {
      const cases: Array<[string, Record<string, unknown>, string]> = [
        ["/concurrency_limits/", { tag: "neg", concurrency_limit: -1 }, "body.concurrency_limit"],
        ["/concurrency_limits/", { tag: "", concurrency_limit: 1 }, "body.tag"],
        ["/concurrency_limits/", { tag: "x", concurrency_limit: 1.5 }, "body.concurrency_limit"],
        ["/concurrency_limits/increment", { names: ["x"], task_run_id: "nope" }, "body.task_run_id"],
        ["/concurrency_limits/tag/x/reset", { slot_override: ["nope"] }, "body.slot_override"],
      ];
      for (const [path, body, field] of cases) {
        const response = await server.call<Invalid>("POST", path, body);
        expect(response.status, `${path} ${JSON.stringify(body)}`).toBe(422);
        expect(response.body.exception_message).toContain(field);
      }
    });

    it("makes a task run wait (WAIT with a delay) while its tag's slots are full, and lets it in when one is given back", async () => {
      await server.call("POST", "/concurrency_limits/", { tag: "db", concurrency_limit: 2 });
      const [a, b, c] = [await taskRun(["db", "other"]), await taskRun(["db"]), await taskRun(["db"])];
      expect((await propose(a, { type: "RUNNING" })).status).toBe("ACCEPT");
      expect((await propose(b, { type: "RUNNING" })).status).toBe("ACCEPT");
      const waiting = await propose(c, { type: "RUNNING" });
      expect(waiting.status).toBe("WAIT");
      expect(waiting.details).toMatchObject({ type: "wait_details", delay_seconds: 30 });
      expect(JSON.stringify(waiting.details)).toMatch(/'db' tag has been reached/);
      expect((await server.call<TaskRun>("GET", `/task_runs/${c}`)).body.state_type).toBe("PENDING");
      expect((await limitOf("db")).active_slots.sort()).toEqual([a, b].sort());

      // Proposing RUNNING again while running does not take a second slot.
      expect((await propose(a, { type: "COMPLETED" })).status).toBe("ACCEPT");
      expect((await limitOf("db")).active_slots).toEqual([b]);
      expect((await propose(c, { type: "RUNNING" })).status).toBe("ACCEPT");
      expect((await limitOf("db")).active_slots.sort()).toEqual([b, c].sort());

      // A failure with retries left becomes AwaitingRetry (a substitute state) and still gives back its slot.
      const retrying = await taskRun(["db"], { retries: 1, max_retries: 1 });
      expect((await propose(b, { type: "FAILED" })).status).toBe("ACCEPT");
      expect((await propose(retrying, { type: "RUNNING" })).status).toBe("ACCEPT");
      const failed = await propose(retrying, { type: "FAILED" });
      expect(failed.state?.name).toBe("AwaitingRetry");
      expect((await limitOf("db")).active_slots).toEqual([c]);

      // A forced transition gives back too.
      expect((await propose(c, { type: "CRASHED" }, true)).status).toBe("ACCEPT");
      expect((await limitOf("db")).active_slots).toEqual([]);
    });

    it("never lets 200 task runs contending for a tag of 5 be RUNNING more than 5 at once, by their state history", async () => {
      await server.call("POST", "/concurrency_limits/", { tag: "crowd", concurrency_limit: 5 });
      const ids = await Promise.all(Array.from({ length: 200 }, () => taskRun(["crowd"])));
      let waits = 0;
      await Promise.all(
        ids.map(async (id) => {
          for (;;) {
            const result = await propose(id, { type: "RUNNING" });
            if (result.status === "ACCEPT") break;
            expect(result.status).toBe("WAIT");
            waits += 1;
            await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 10));
          }
          await new Promise((resolve) => setTimeout(resolve, 2));
          expect((await propose(id, { type: "COMPLETED" })).status).toBe("ACCEPT");
        }),
      );
      expect(waits).toBeGreaterThan(0);
      // From the server's records: each run's RUNNING interval, ordered by the state rows' timestamps.
      const rows = await server.db.kysely
        .selectFrom("task_run_state")
        .select(["run_id", "type", "timestamp"])
        .where("run_id", "in", ids)
        .where("type", "in", ["RUNNING", "COMPLETED"])
        .execute();
      expect(rows).toHaveLength(400);
      const events = rows
        .map((row) => ({ at: Date.parse(row.timestamp), delta: row.type === "RUNNING" ? 1 : -1 }))
        // At the same instant, a run finishing frees its slot before another starts.
        .sort((x, y) => x.at - y.at || x.delta - y.delta);
      let running = 0;
      let most = 0;
      for (const event of events) {
        running += event.delta;
        most = Math.max(most, running);
      }
      expect(most).toBeLessThanOrEqual(5);
      expect(most).toBeGreaterThanOrEqual(2);
      expect((await limitOf("crowd")).active_slots).toEqual([]);
    }, 120_000);

    it("aborts a run whose tag has a limit of 0, and serves increment / decrement for clients that take slots themselves", async () => {
      await server.call("POST", "/concurrency_limits/", { tag: "closed", concurrency_limit: 0 });
      const run = await taskRun(["closed"]);
      const aborted = await propose(run, { type: "RUNNING" });
      expect(aborted.status).toBe("ABORT");
      expect(JSON.stringify(aborted.details)).toMatch(/is 0 and will deadlock/);

      await server.call("POST", "/concurrency_limits/", { tag: "manual", concurrency_limit: 1 });
      const [x, y] = [await taskRun([]), await taskRun([])];
      const took = await server.call<Array<{ name: string }>>("POST", "/concurrency_limits/increment", { names: ["manual", "unlimited-tag"], task_run_id: x });
      expect(took.status).toBe(200);
      expect(took.body.map((l) => l.name)).toEqual(["manual"]);
      const full = await fetch(`${server.apiUrl}/concurrency_limits/increment`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ names: ["manual"], task_run_id: y }),
      });
      expect(full.status).toBe(423);
      expect(full.headers.get("retry-after")).toBe("30.000");
      const gaveBack = await server.call<Array<{ name: string }>>("POST", "/concurrency_limits/decrement", { names: ["manual"], task_run_id: x });
      expect(gaveBack.body.map((l) => l.name)).toEqual(["manual"]);
      expect((await server.call("POST", "/concurrency_limits/increment", { names: ["manual"], task_run_id: y })).status).toBe(200);
      const zero = await server.call<Invalid>("POST", "/concurrency_limits/increment", { names: ["closed"], task_run_id: y });
      expect(zero.status).toBe(423);
      expect(zero.body.detail).toMatch(/is 0/);
    });
  });
}
