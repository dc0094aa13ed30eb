import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConcurrencyLimitV2, ConcurrencyLimitWithLease, MinimalConcurrencyLimit } from "@baton/core";
import { createServices } from "@baton/server";
import { contractProperties } from "./contract-fields.js";
import { sql } from "kysely";
import { DIALECTS, eventually, startTestServer, type TestServer } from "./harness.js";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

interface Invalid {
  exception_message: string;
  detail?: string;
}

for (const dialect of DIALECTS) {
  describe(`global concurrency limits (v2) on ${dialect}`, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    async function create(body: Record<string, unknown>): Promise<ConcurrencyLimitV2> {
      const { status, body: limit } = await server.call<ConcurrencyLimitV2>("POST", "/v2/concurrency_limits/", body);
      expect(status, JSON.stringify(limit)).toBe(201);
      return limit;
    }
    const read = async (name: string) => (await server.call<ConcurrencyLimitV2>("GET", `/v2/concurrency_limits/${encodeURIComponent(name)}`)).body;
    async function increment(body: Record<string, unknown>): Promise<{ status: number; retryAfter: string | null; body: unknown }> {
      const response = await fetch(`${server.apiUrl}/v2/concurrency_limits/increment`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: response.status, retryAfter: response.headers.get("retry-after"), body: await response.json() };
    }

    it("creates, reads by id and by name, updates, lists and deletes a limit", async () => {
      const limit = await create({ name: "crud-db", limit: 3 });
      expect(limit).toMatchObject({ name: "crud-db", limit: 3, active: true, active_slots: 0, denied_slots: 0, slot_decay_per_second: 0 });
      const expected = contractProperties("ConcurrencyLimitV2");
      if (expected) expect(Object.keys(limit).sort()).toEqual(expected);
      expect((await server.call("POST", "/v2/concurrency_limits/", { name: "crud-db", limit: 1 })).status).toBe(409);

      const byId = await server.call<ConcurrencyLimitV2>("GET", `/v2/concurrency_limits/${limit.id}`);
      expect(byId.status).toBe(200);
      expect(byId.body.name).toBe("crud-db");
      expect((await read("crud-db")).id).toBe(limit.id);

      expect((await server.call("PATCH", "/v2/concurrency_limits/crud-db", { limit: 7, active: false })).status).toBe(204);
      expect(await read("crud-db")).toMatchObject({ limit: 7, active: false });
      expect((await server.call("PATCH", `/v2/concurrency_limits/${limit.id}`, { name: "crud-db-renamed" })).status).toBe(204);
      expect((await read("crud-db-renamed")).id).toBe(limit.id);

      await create({ name: "crud-other", limit: 1 });
      expect((await server.call("PATCH", "/v2/concurrency_limits/crud-other", { name: "crud-db-renamed" })).status).toBe(409);
      const listed = await server.call<ConcurrencyLimitV2[]>("POST", "/v2/concurrency_limits/filter", {});
      expect(listed.body.map((l) => l.name)).toEqual(expect.arrayContaining(["crud-db-renamed", "crud-other"]));
      const paged = await server.call<ConcurrencyLimitV2[]>("POST", "/v2/concurrency_limits/filter", { limit: 1, offset: 0 });
      expect(paged.body).toHaveLength(1);

      expect((await server.call("DELETE", "/v2/concurrency_limits/crud-db-renamed")).status).toBe(204);
      expect((await server.call("GET", `/v2/concurrency_limits/${limit.id}`)).status).toBe(404);
      expect((await server.call("DELETE", "/v2/concurrency_limits/crud-db-renamed")).status).toBe(404);
      expect((await server.call("PATCH", "/v2/concurrency_limits/no-such-limit", { limit: 1 })).status).toBe(404);
    });

    it("refuses bad limits and bad requests with a 422 naming the field", async () => {
      const cases: Array<[string, string, Record<string, unknown>, string]> = [
        ["POST", "/v2/concurrency_limits/", { name: "neg", limit: -1 }, "body.limit"],
        ["POST", "/v2/concurrency_limits/", { name: "a/b", limit: 1 }, "body.name"],
        ["POST", "/v2/concurrency_limits/", { name: "x".repeat(600), limit: 1 }, "body.name"],
        ["POST", "/v2/concurrency_limits/", { name: "decay", limit: 1, slot_decay_per_second: -2 }, "body.slot_decay_per_second"],
        ["POST", "/v2/concurrency_limits/", { name: "nolimit" }, "body.limit"],
        ["POST", "/v2/concurrency_limits/", { name: "extra", limit: 1, colour: "red" }, "body"],
        ["POST", "/v2/concurrency_limits/increment", { names: ["x"], slots: 0 }, "body.slots"],
        ["POST", "/v2/concurrency_limits/increment", { names: [], slots: 1 }, "body.names"],
        ["POST", "/v2/concurrency_limits/increment", { names: ["x"], slots: 1, mode: "fast" }, "body.mode"],
        ["POST", "/v2/concurrency_limits/increment-with-lease", { names: ["x"], slots: 1, lease_duration: 5 }, "body.lease_duration"],
        ["POST", "/v2/concurrency_limits/increment-with-lease", { names: ["x"], slots: 1, holder: { type: "robot", id: "x" } }, "body.holder"],
        ["POST", "/v2/concurrency_limits/decrement", { names: ["x"], slots: 1, occupancy_seconds: -1 }, "body.occupancy_seconds"],
        ["POST", "/v2/concurrency_limits/decrement-with-lease", { lease_id: "not-a-uuid" }, "body.lease_id"],
        ["PATCH", "/v2/concurrency_limits/anything", { limit: -5 }, "body.limit"],
      ];
      for (const [method, path, body, field] of cases) {
        const response = await server.call<Invalid>(method, path, body);
        expect(response.status, `${method} ${path} ${JSON.stringify(body).slice(0, 80)}`).toBe(422);
        expect(response.body.exception_message).toContain(field);
      }
      await create({ name: "small", limit: 2 });
      const tooMany = await server.call<Invalid>("POST", "/v2/concurrency_limits/increment", { names: ["small"], slots: 3 });
      expect(tooMany.status).toBe(422);
      expect(tooMany.body.exception_message).toMatch(/body\.slots.*'small'/);
      const notRate = await server.call<Invalid>("POST", "/v2/concurrency_limits/increment", { names: ["small"], slots: 1, mode: "rate_limit" });
      expect(notRate.status).toBe(422);
      expect(notRate.body.exception_message).toMatch(/body\.mode.*slot decay/);
      expect((await read("small")).active_slots).toBe(0);
    });

    it("takes slots all or none, answers 423 with Retry-After when full, and gives them back", async () => {
      await create({ name: "pair-a", limit: 2 });
      await create({ name: "pair-b", limit: 1 });
      const first = await increment({ names: ["pair-a", "pair-b", "does-not-exist"], slots: 1 });
      expect(first.status).toBe(200);
      expect((first.body as MinimalConcurrencyLimit[]).map((l) => l.name).sort()).toEqual(["pair-a", "pair-b"]);

      // pair-a has room, pair-b has none: neither is taken.
      const refused = await increment({ names: ["pair-a", "pair-b"], slots: 1 });
      expect(refused.status).toBe(423);
      expect(Number(refused.retryAfter)).toBeGreaterThan(0);
      expect((refused.body as Invalid).detail).toMatch(/pair-b/);
      expect(await read("pair-a")).toMatchObject({ active_slots: 1 });
      expect((await read("pair-b")).denied_slots).toBeGreaterThanOrEqual(1);

      const released = await server.call<MinimalConcurrencyLimit[]>("POST", "/v2/concurrency_limits/decrement", { names: ["pair-a", "pair-b"], slots: 1, occupancy_seconds: 0.5 });
      expect(released.status).toBe(200);
      expect(released.body).toHaveLength(2);
      expect(await read("pair-a")).toMatchObject({ active_slots: 0 });
      const occupancy = (await read("pair-b")).avg_slot_occupancy_seconds;
      expect(occupancy).toBeLessThan(2);
      expect((await increment({ names: ["pair-a", "pair-b"], slots: 1 })).status).toBe(200);

      // An inactive limit limits nothing and is not in the answer.
      await server.call("PATCH", "/v2/concurrency_limits/pair-b", { active: false });
      const inactive = await increment({ names: ["pair-b"], slots: 1 });
      expect(inactive.status).toBe(200);
      expect(inactive.body).toEqual([]);
    });

    it("never lets 200 contenders for a limit of 5 hold more than 5 slots", async () => {
      await create({ name: "crowd", limit: 5 });
      let maxLeases = 0;
      let grants = 0;
      const contender = async () => {
        for (;;) {
          const response = await fetch(`${server.apiUrl}/v2/concurrency_limits/increment-with-lease`, {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ names: ["crowd"], slots: 1 }),
          });
          if (response.status === 423) {
            // As a client does: come back when the server says.
            const retryAfter = Number(response.headers.get("retry-after"));
            expect(retryAfter).toBeGreaterThan(0);
            await response.body?.cancel();
            await new Promise((resolve) => setTimeout(resolve, retryAfter * 1000));
            continue;
          }
          expect(response.status).toBe(200);
          const granted = (await response.json()) as ConcurrencyLimitWithLease;
          grants += 1;
          // While holding, count holders from the server's records: its leases on this limit.
          const holders = await server.db.kysely.selectFrom("concurrency_lease").select((eb) => eb.fn.countAll<number>().as("n")).executeTakeFirstOrThrow();
          const counted = await read("crowd");
          expect(counted.active_slots).toBeLessThanOrEqual(5);
          maxLeases = Math.max(maxLeases, Number(holders.n), counted.active_slots);
          await new Promise((resolve) => setTimeout(resolve, 2));
          expect((await server.call("POST", "/v2/concurrency_limits/decrement-with-lease", { lease_id: granted.lease_id })).status).toBe(204);
          return;
        }
      };
      await Promise.all(Array.from({ length: 200 }, contender));
      expect(grants).toBe(200);
      expect(maxLeases).toBeLessThanOrEqual(5);
      // The crowd really contended: several held slots at once.
      expect(maxLeases).toBeGreaterThanOrEqual(2);
      expect(await read("crowd")).toMatchObject({ active_slots: 0 });
      const leases = await server.db.kysely.selectFrom("concurrency_lease").selectAll().execute();
      expect(leases).toHaveLength(0);
    }, 120_000);

    it("gives back the slots of a lease nobody renewed, and keeps a renewed one", async () => {
      await create({ name: "leased", limit: 2 });
      const take = async () => {
        const response = await server.call<ConcurrencyLimitWithLease>("POST", "/v2/concurrency_limits/increment-with-lease", {
          names: ["leased"],
          slots: 1,
          lease_duration: 60,
          holder: { type: "flow_run", id: "0191a0c2-0000-7000-8000-000000000001" },
        });
        expect(response.status).toBe(200);
        return response.body.lease_id;
      };
      const abandoned = await take();
      const kept = await take();
      expect((await read("leased")).active_slots).toBe(2);
      const expireAt = (offsetSeconds: number) => {
        const clock = { now: () => new Date(Date.now() + offsetSeconds * 1000) };
        return createServices({ db: server.db, config: server.config, events: server.events, clock, logger: quiet }, ["concurrency_lease_expirations"])[0]!;
      };
      await expireAt(30).runOnce();
      expect((await read("leased")).active_slots).toBe(2);

      // The holder of `kept` renews it for 600 s; the holder of `abandoned` died.
      expect((await server.call("POST", `/v2/concurrency_limits/leases/${kept}/renew`, { lease_duration: 600 })).status).toBe(204);
      await expireAt(120).runOnce();
      expect((await read("leased")).active_slots).toBe(1);
      const renewDead = await server.call<{ detail: string }>("POST", `/v2/concurrency_limits/leases/${abandoned}/renew`, {});
      expect(renewDead.status).toBe(410);
      // Releasing a lease already reaped gives nothing back twice.
      expect((await server.call("POST", "/v2/concurrency_limits/decrement-with-lease", { lease_id: abandoned })).status).toBe(204);
      expect((await read("leased")).active_slots).toBe(1);

      await expireAt(700).runOnce();
      expect((await read("leased")).active_slots).toBe(0);
    });

    it("admits a rate limit's N per second within 10%", async () => {
      const perSecond = 20;
      await create({ name: "api-rate", limit: perSecond, slot_decay_per_second: perSecond });
      const granted: number[] = [];
      const started = Date.now();
      const windowMs = 3000;
      // Eight eager callers that ask again every few milliseconds, whatever Retry-After says,
      // so that the limit, not the callers, sets the pace.
      const caller = async () => {
        while (Date.now() - started < windowMs + 1000) {
          const response = await increment({ names: ["api-rate"], slots: 1, mode: "rate_limit" });
          if (response.status === 200) granted.push(Date.now() - started);
          else expect(response.status).toBe(423);
          await new Promise((resolve) => setTimeout(resolve, 3));
        }
      };
      await Promise.all(Array.from({ length: 8 }, caller));
      // The first second spends the initial burst of `limit`; the rate is measured after it.
      const steady = granted.filter((t) => t >= 1000 && t < 1000 + windowMs).length;
      const rate = steady / (windowMs / 1000);
      expect(rate).toBeGreaterThanOrEqual(perSecond * 0.9);
      expect(rate).toBeLessThanOrEqual(perSecond * 1.1);
    }, 30_000);
  });
}

describe("slot statements on postgres", () => {
  it("take, renew and give back slots while every connection of the main pool is held by a transaction", async () => {
    const server = await startTestServer("postgres", { config: { databasePoolSize: 2 } });
    expect((await server.call("POST", "/v2/concurrency_limits/", { name: "reserved", limit: 1 })).status).toBe(201);
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => {
      release = resolve;
    });
    let holding = 0;
    const holders = [0, 1].map(() =>
      server.db.kysely.transaction().execute(async (trx) => {
        await sql`SELECT 1`.execute(trx);
        holding += 1;
        await held;
      }),
    );
    try {
      await eventually(() => holding === 2, 5000, "both connections of the main pool to be held");
      // Without connections of their own these would wait for the transactions above, forever.
      const inTime = <T>(answer: Promise<T>) =>
        Promise.race([answer, new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer within 3 s: the slot request waited for the main pool")), 3000))]);
      const taken = await inTime(server.call<ConcurrencyLimitWithLease>("POST", "/v2/concurrency_limits/increment-with-lease", { names: ["reserved"], slots: 1 }));
      expect(taken.status).toBe(200);
      expect(taken.body.limits.map((l) => l.name)).toEqual(["reserved"]);
      expect((await inTime(server.call("POST", `/v2/concurrency_limits/leases/${taken.body.lease_id}/renew`, { lease_duration: 120 }))).status).toBe(204);
      expect((await inTime(server.call("POST", "/v2/concurrency_limits/decrement-with-lease", { lease_id: taken.body.lease_id }))).status).toBe(204);
      release();
      await Promise.all(holders);
      expect((await server.call<ConcurrencyLimitV2>("GET", "/v2/concurrency_limits/reserved")).body.active_slots).toBe(0);
    } finally {
      release();
      await Promise.allSettled(holders);
      await server.close();
    }
  });
});
