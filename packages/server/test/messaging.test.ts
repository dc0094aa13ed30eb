import { randomUUID } from "node:crypto";
import { afterAll, describe, expect, it } from "vitest";
import { MemoryBus, RedisBus, type MessageBus } from "@baton/server";
import { eventually } from "./harness.js";

const REDIS_URL = process.env.BATON_TEST_REDIS_URL ?? "redis://127.0.0.1:6379";

/** Each test gets buses on fresh streams: with Redis, two buses on one prefix are two server processes. */
const KINDS = {
  memory: () => {
    const bus = new MemoryBus();
    return { open: async () => bus as MessageBus, cleanup: async () => bus.close() };
  },
  redis: () => {
    const prefix = `baton-test:${randomUUID().slice(0, 8)}:`;
    const opened: RedisBus[] = [];
    return {
      open: async () => {
        const bus = await RedisBus.connect({ url: REDIS_URL, prefix, maxLength: 1000 });
        opened.push(bus);
        return bus as MessageBus;
      },
      cleanup: async () => {
        const first = opened[0];
        if (first) {
          const keys = await first.redis.keys(`${prefix}*`);
          if (keys.length > 0) await first.redis.del(...keys);
        }
        await Promise.all(opened.map((bus) => bus.close()));
      },
    };
  },
} as const;

for (const [kind, make] of Object.entries(KINDS)) {
  describe(`message bus (${kind})`, () => {
    const cleanups: Array<() => Promise<void>> = [];
    afterAll(async () => {
      for (const cleanup of cleanups) await cleanup();
    });
    const setup = () => {
      const made = make();
      cleanups.push(made.cleanup);
      return made;
    };
    const numbers = (n: number, from = 0) => Array.from({ length: n }, (_, i) => String(from + i));

    it("delivers every message to every group, in order, in batches", async () => {
      const { open } = setup();
      const bus = await open();
      const seen: Record<string, unknown[]> = { a: [], b: [] };
      let batches = 0;
      const stopA = await bus.subscribe("t", "a", async (m) => void (seen.a!.push(...m), batches++));
      const stopB = await bus.subscribe("t", "b", async (m) => void seen.b!.push(...m));
      await bus.publish("t", numbers(1500));
      await bus.publish("t", numbers(500, 1500));
      await eventually(() => seen.a!.length === 2000 && seen.b!.length === 2000);
      expect(seen.a).toEqual(numbers(2000));
      expect(seen.b).toEqual(numbers(2000));
      expect(batches).toBeLessThan(2000);
      await stopA();
      await stopB();
    });

    it("carries JSON values, objects included, unchanged", async () => {
      const { open } = setup();
      const bus = await open();
      const seen: unknown[] = [];
      const stop = await bus.subscribe("t", "values", async (m) => void seen.push(...m));
      const sent = [{ id: "e1", related: [{ "prefect.resource.id": "x" }], payload: { n: 1, none: null } }, "text", 3, [true, false]];
      await bus.publish("t", sent);
      await eventually(() => seen.length === sent.length);
      expect(seen).toEqual(sent);
      await stop();
    });

    it("shares one group's messages between its members, across buses (processes) on Redis", async () => {
      const { open } = setup();
      const one = await open();
      const two = kind === "redis" ? await open() : one;
      const got: unknown[][] = [[], []];
      const slow = (i: number) => async (m: unknown[]) => {
        got[i]!.push(...m);
        await new Promise((resolve) => setTimeout(resolve, 5));
      };
      const stops = [await one.subscribe("t", "shared", slow(0), { batchSize: 10 }), await two.subscribe("t", "shared", slow(1), { batchSize: 10 })];
      for (let i = 0; i < 20; i++) await one.publish("t", numbers(10, i * 10));
      await eventually(() => got[0]!.length + got[1]!.length >= 200);
      expect([...got[0]!, ...got[1]!].sort((x, y) => Number(x) - Number(y))).toEqual(numbers(200));
      expect(got[0]!.length).toBeGreaterThan(0);
      expect(got[1]!.length).toBeGreaterThan(0);
      for (const stop of stops) await stop();
    });

    it("delivers a batch again when its handler throws", async () => {
      const { open } = setup();
      const bus = await open();
      const seen: unknown[] = [];
      let failures = 0;
      const stop = await bus.subscribe("t", "flaky", async (m) => {
        if (failures < 2) {
          failures++;
          throw new Error("not now");
        }
        seen.push(...m);
      });
      await bus.publish("t", ["x", "y"]);
      await eventually(() => seen.length >= 2, 10_000);
      expect(seen).toEqual(["x", "y"]);
      await stop();
    });

    it("an ephemeral group sees what is published after it subscribed, and is gone after", async () => {
      const { open } = setup();
      const bus = await open();
      const lasting: unknown[] = [];
      const stopLasting = await bus.subscribe("t", "keep", async (m) => void lasting.push(...m));
      await bus.publish("t", ["before"]);
      const seen: unknown[] = [];
      const stop = await bus.subscribe("t", "live", async (m) => void seen.push(...m), { ephemeral: true });
      await bus.publish("t", ["after"]);
      await eventually(() => seen.length === 1 && lasting.length === 2);
      expect(seen).toEqual(["after"]);
      await stop();
      if (bus instanceof RedisBus) {
        const groups = (await bus.redis.call("XINFO", "GROUPS", bus.key("t"))) as unknown[];
        expect(groups).toHaveLength(1);
      }
      await stopLasting();
    });

    if (kind === "memory") {
      it("with gatherMs, messages published one at a time in the window come as one batch", async () => {
        const { open } = setup();
        const bus = await open();
        const batches: unknown[][] = [];
        const stop = await bus.subscribe("t", "gathered", async (m) => void batches.push(m), { gatherMs: 50 });
        for (let i = 0; i < 5; i++) await bus.publish("t", [i]);
        await eventually(() => batches.flat().length === 5);
        expect(batches).toEqual([[0, 1, 2, 3, 4]]);
        await stop();
      });
    }

    if (kind === "redis") {
      it("trims streams as they are written (no unbounded growth)", async () => {
        const { open } = setup();
        const bus = (await open()) as RedisBus;
        for (let i = 0; i < 3000; i++) await bus.publish("big", [String(i)]);
        const length = await bus.redis.xlen(bus.key("big"));
        // MAXLEN ~ 1000 trims whole radix-tree nodes: about 1000, never all 3000.
        expect(length).toBeLessThan(1500);
        expect(length).toBeGreaterThanOrEqual(1000);
      });
    }
  });
}
