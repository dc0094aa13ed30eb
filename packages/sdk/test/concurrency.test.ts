import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConcurrencyLimitV2 } from "@baton/core";
import { createServices } from "@baton/server";
import {
  AcquireConcurrencySlotTimeoutError,
  acquireConcurrencySlots,
  concurrency,
  ConcurrencyLimitMissingError,
  flow,
  InvalidOptionError,
  rateLimit,
  task,
} from "@baton/sdk";
import { sleep, startTestServer, type TestServer } from "./helpers.js";

const quiet = { info() {}, warn() {}, error() {}, debug() {} };

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer();
});
afterAll(async () => {
  await t.close();
});

async function createLimit(body: Record<string, unknown>): Promise<void> {
  await t.client.request("POST", "/v2/concurrency_limits/", body);
}
const readLimit = (name: string) => t.client.request<ConcurrencyLimitV2>("GET", `/v2/concurrency_limits/${name}`);

describe("concurrency()", () => {
  it("lets at most `limit` task runs of a flow into the guarded code at once, and gives every slot back", async () => {
    await createLimit({ name: "warehouse", limit: 3 });
    let inside = 0;
    let most = 0;
    let serverMost = 0;
    const load = task(async function load(i: number) {
      return concurrency("warehouse", async () => {
        inside += 1;
        most = Math.max(most, inside);
        serverMost = Math.max(serverMost, (await readLimit("warehouse")).active_slots);
        await sleep(20);
        inside -= 1;
        return i * 2;
      });
    });
    const etl = flow(async function etl() {
      const futures = load.map(Array.from({ length: 30 }, (_, i) => i));
      return Promise.all(futures.map((f) => f.result()));
    });
    const results = await etl();
    expect(results).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
    expect(most).toBeLessThanOrEqual(3);
    expect(most).toBeGreaterThanOrEqual(2);
    expect(serverMost).toBeLessThanOrEqual(3);
    expect((await readLimit("warehouse")).active_slots).toBe(0);
    expect(await t.server.db.kysely.selectFrom("concurrency_lease").selectAll().execute()).toHaveLength(0);
  }, 60_000);

  it("gives the slots back when the guarded code throws, and records the run holding the lease", async () => {
    await createLimit({ name: "fragile", limit: 1 });
    let holder: unknown;
    const job = flow(async function fragileJob() {
      await concurrency("fragile", async () => {
        const [lease] = await t.server.db.kysely.selectFrom("concurrency_lease").select("holder").execute();
        holder = JSON.parse(lease!.holder!);
        throw new Error("boom");
      });
    });
    await expect(job()).rejects.toThrow(/boom/);
    expect(holder).toMatchObject({ type: "flow_run" });
    expect((await readLimit("fragile")).active_slots).toBe(0);
  });

  it("times out waiting with AcquireConcurrencySlotTimeoutError, and is strict about missing limits only when asked", async () => {
    await createLimit({ name: "busy", limit: 1 });
    const held = await acquireConcurrencySlots("busy");
    const started = Date.now();
    await expect(concurrency("busy", { timeoutSeconds: 0.3 }, () => "never")).rejects.toBeInstanceOf(AcquireConcurrencySlotTimeoutError);
    expect(Date.now() - started).toBeLessThan(5000);
    await held.release();
    await held.release(); // twice is once
    expect(await concurrency("busy", { timeoutSeconds: 1 }, () => "ran")).toBe("ran");

    expect(await concurrency("nobody-made-this", () => "unguarded")).toBe("unguarded");
    await expect(concurrency("nobody-made-this", { strict: true }, () => "never")).rejects.toBeInstanceOf(ConcurrencyLimitMissingError);
    await expect(rateLimit("nobody-made-this", { strict: true })).rejects.toBeInstanceOf(ConcurrencyLimitMissingError);
  });

  it("refuses bad options before asking the server", async () => {
    await expect(concurrency("busy", { occupy: 0 }, () => 1)).rejects.toBeInstanceOf(InvalidOptionError);
    await expect(concurrency("busy", { leaseDurationSeconds: 5 }, () => 1)).rejects.toThrow(/leaseDurationSeconds/);
    await expect(concurrency([], () => 1)).rejects.toThrow(/names/);
    await expect(rateLimit("busy", { timeoutSeconds: -1 })).rejects.toThrow(/timeoutSeconds/);
    // A rate limit needs decay: the server's 422 names the field.
    await expect(rateLimit("busy")).rejects.toThrow(/body\.mode/);
  });

  it("gives back a killed holder's slots once its lease expires", async () => {
    await createLimit({ name: "killed", limit: 1 });
    const fixture = fileURLToPath(new URL("./fixtures/slot-holder.ts", import.meta.url));
    const child = spawn(process.execPath, ["--import", "tsx", fixture, "killed"], {
      env: { ...process.env, BATON_API_URL: t.server.apiUrl, BATON_CONSOLE_LOGS: "false" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let err = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (err += chunk.toString()));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on("exit", (_code, signal) => resolve(signal)));
    for (let i = 0; i < 200 && !out.includes("held"); i++) await sleep(50);
    expect(out, err).toContain("held");
    child.kill("SIGKILL");
    expect(await exited).toBe("SIGKILL");
    expect((await readLimit("killed")).active_slots).toBe(1);
    await expect(concurrency("killed", { timeoutSeconds: 0.2 }, () => 1)).rejects.toBeInstanceOf(AcquireConcurrencySlotTimeoutError);

    const later = { now: () => new Date(Date.now() + 61_000) };
    const [reaper] = createServices({ db: t.server.db, config: t.server.config, events: t.server.events, clock: later, logger: quiet }, ["concurrency_lease_expirations"]);
    await reaper!.runOnce();
    expect((await readLimit("killed")).active_slots).toBe(0);
    expect(await concurrency("killed", { timeoutSeconds: 1 }, () => "free again")).toBe("free again");
  }, 30_000);
});

describe("rateLimit()", () => {
  it("admits about N calls per second after the first burst", async () => {
    await createLimit({ name: "github", limit: 4, slot_decay_per_second: 4 });
    const admitted: number[] = [];
    const started = Date.now();
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        for (let i = 0; i < 4; i++) {
          await rateLimit("github");
          admitted.push(Date.now() - started);
        }
      }),
    );
    expect(admitted).toHaveLength(16);
    // 4 at once, then 12 more at 4 per second: about 3 s in all, never much faster.
    const last = Math.max(...admitted);
    expect(last).toBeGreaterThanOrEqual(2500);
    expect(last).toBeLessThan(8000);
  }, 30_000);
});
