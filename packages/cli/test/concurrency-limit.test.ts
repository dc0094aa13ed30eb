import type { ConcurrencyLimitV2, TagConcurrencyLimit } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, runCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;
beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
});
afterAll(() => t.close());

const readGcl = (name: string) => t.client.request<ConcurrencyLimitV2>("GET", `/v2/concurrency_limits/${name}`);

describe("baton gcl", () => {
  it("creates, lists, inspects, updates, disables and deletes a global limit", async () => {
    const created = await runCli(["gcl", "create", "cli-db", "--limit", "4"], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/Created global concurrency limit 'cli-db' with a limit of 4/);
    const rate = await runCli(["global-concurrency-limit", "create", "cli-api", "--limit", "10", "--slot-decay-per-second", "2.5"], env);
    expect(rate.stdout).toMatch(/rate limit of 10 \(decay 2.5\/s\)/);

    const ls = await runCli(["gcl", "ls"], env);
    expect(ls.code).toBe(0);
    expect(lines(ls.stdout)[0]).toMatch(/^NAME\s+ACTIVE\s+LIMIT\s+IN USE\s+DENIED\s+DECAY\/S/);
    expect(ls.stdout).toMatch(/cli-api\s+yes\s+10\s+0\s+0\s+2.5/);

    const inspect = await runCli(["gcl", "inspect", "cli-db"], env);
    expect(inspect.stdout).toMatch(/Limit:\s+4/);
    expect(inspect.stdout).toMatch(/Slots in use:\s+0/);
    const json = JSON.parse((await runCli(["gcl", "inspect", "cli-db", "--json"], env)).stdout) as ConcurrencyLimitV2;
    expect(json.name).toBe("cli-db");

    expect((await runCli(["gcl", "update", "cli-db", "--limit", "6", "--active-slots", "1"], env)).code).toBe(0);
    expect(await readGcl("cli-db")).toMatchObject({ limit: 6, active_slots: 1 });
    expect((await runCli(["gcl", "disable", "cli-db"], env)).code).toBe(0);
    expect((await readGcl("cli-db")).active).toBe(false);
    expect((await runCli(["gcl", "enable", "cli-db"], env)).code).toBe(0);
    expect((await readGcl("cli-db")).active).toBe(true);

    expect((await runCli(["gcl", "delete", "cli-db"], env)).stdout).toBe("Deleted global concurrency limit 'cli-db'.\n");
    const gone = await runCli(["gcl", "inspect", "cli-db"], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/Global concurrency limit cli-db not found/);
  });

  it("refuses bad input with a message and a non-zero exit", async () => {
    const negative = await runCli(["gcl", "create", "bad", "--limit", "-1"], env);
    expect(negative.code).toBe(2);
    expect(negative.stderr).toMatch(/--limit.*whole number of slots/);
    const missing = await runCli(["gcl", "create", "bad"], env);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/--limit/);
    const decay = await runCli(["gcl", "create", "bad", "--limit", "1", "--slot-decay-per-second", "fast"], env);
    expect(decay.code).toBe(2);
    const slash = await runCli(["gcl", "create", "a/b", "--limit", "1"], env);
    expect(slash.code).toBe(1);
    expect(slash.stderr).toMatch(/name/);
    await runCli(["gcl", "create", "twice", "--limit", "1"], env);
    const duplicate = await runCli(["gcl", "create", "twice", "--limit", "1"], env);
    expect(duplicate.code).toBe(1);
    expect(duplicate.stderr).toMatch(/already exists/);
    const nothing = await runCli(["gcl", "update", "twice"], env);
    expect(nothing.code).toBe(2);
    expect(nothing.stderr).toMatch(/nothing to update/);
  });
});

describe("baton concurrency-limit", () => {
  it("limits a tag, lists, inspects, resets and deletes it", async () => {
    const created = await runCli(["concurrency-limit", "create", "warehouse", "--limit", "3"], env);
    expect(created.code, created.stderr).toBe(0);
    expect(created.stdout).toMatch(/Limited tag 'warehouse' to 3 concurrent task run\(s\)/);
    const holder = "0191a0c2-0000-7000-8000-0000000000bb";
    await t.client.request("POST", "/concurrency_limits/tag/warehouse/reset", { slot_override: [holder] });

    const ls = await runCli(["concurrency-limit", "ls"], env);
    expect(ls.stdout).toMatch(/warehouse\s+3\s+1/);
    const inspect = await runCli(["concurrency-limit", "inspect", "warehouse"], env);
    expect(inspect.stdout).toContain(holder);

    expect((await runCli(["concurrency-limit", "reset", "warehouse"], env)).code).toBe(0);
    expect((await t.client.request<TagConcurrencyLimit>("GET", "/concurrency_limits/tag/warehouse")).active_slots).toEqual([]);
    const badKeep = await runCli(["concurrency-limit", "reset", "warehouse", "--keep", "not-a-uuid"], env);
    expect(badKeep.code).toBe(2);

    expect((await runCli(["concurrency-limit", "delete", "warehouse"], env)).code).toBe(0);
    const gone = await runCli(["concurrency-limit", "delete", "warehouse"], env);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/not found/);
  });
});
