import type { WorkPool, WorkQueue } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, lines, runCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;

beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
});

afterAll(async () => {
  await t?.close();
});

const readPool = (name: string) => t.client.request<WorkPool>("GET", `/work_pools/${encodeURIComponent(name)}`);

describe("baton work-pool", () => {
  it("create makes a process pool with its default queue; --concurrency-limit and --paused are applied", async () => {
    const plain = await runCli(["work-pool", "create", "local"], env);
    expect(plain).toMatchObject({ code: 0, stderr: "" });
    expect(plain.stdout).toMatch(/^Created work pool 'local' \(type process, no concurrency limit\): [0-9a-f-]{36}\n$/);
    const pool = await readPool("local");
    expect(pool).toMatchObject({ type: "process", concurrency_limit: null, is_paused: false });
    expect(Object.keys(pool.base_job_template)).toEqual(["job_configuration", "variables"]);

    const limited = await runCli(["work-pool", "create", "limited", "--concurrency-limit", "3", "--paused", "--type", "docker"], env);
    expect(limited.code).toBe(0);
    expect(limited.stdout).toContain("(type docker, concurrency limit 3, paused)");
    expect(await readPool("limited")).toMatchObject({ type: "docker", concurrency_limit: 3, is_paused: true, status: "PAUSED" });
  });

  it("create --json prints the API object; a taken name fails with the server's message", async () => {
    const json = await runCli(["work-pool", "create", "as-json", "--json"], env);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.stdout) as WorkPool).name).toBe("as-json");
    const again = await runCli(["work-pool", "create", "as-json"], env);
    expect(again.code).toBe(1);
    expect(lines(again.stderr)).toEqual(["error: A work pool named 'as-json' already exists."]);
  });

  it("ls lists pools by name with type, status and slots", async () => {
    await runCli(["work-pool", "create", "zz-listed", "--concurrency-limit", "2"], env);
    const result = await runCli(["work-pool", "ls"], env);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    const [header, ...rows] = lines(result.stdout);
    expect(header).toMatch(/^NAME\s+TYPE\s+STATUS\s+SLOTS\s+ID$/);
    const names = rows.map((row) => row.split(/\s{2,}/)[0]);
    expect(names).toEqual([...names].sort());
    expect(rows.find((r) => r.startsWith("zz-listed"))).toMatch(/^zz-listed\s+process\s+NOT_READY\s+0\/2\s+[0-9a-f-]{36}$/);
    const json = await runCli(["work-pool", "ls", "--json"], env);
    expect((JSON.parse(json.stdout) as WorkPool[]).map((p) => p.name)).toContain("zz-listed");
  });

  it("inspect shows the pool, its queues (default marked) and workers", async () => {
    await runCli(["work-pool", "create", "inspected", "--concurrency-limit", "5"], env);
    await runCli(["work-queue", "create", "fast", "--pool", "inspected", "--priority", "1"], env);
    await t.client.request("POST", "/work_pools/inspected/workers/heartbeat", { name: "worker-1" });
    const result = await runCli(["work-pool", "inspect", "inspected"], env);
    expect(result).toMatchObject({ code: 0, stderr: "" });
    expect(result.stdout).toMatch(/^Name:\s+inspected$/m);
    expect(result.stdout).toMatch(/^Status:\s+READY$/m);
    expect(result.stdout).toMatch(/^Concurrency limit:\s+5$/m);
    expect(result.stdout).toMatch(/^Slots in use:\s+0$/m);
    expect(result.stdout).toContain("Queues (2):");
    expect(result.stdout).toMatch(/^ {2}fast\s+1\s+NOT_READY\s+-\s+/m);
    expect(result.stdout).toMatch(/^ {2}default \(default\)\s+2\s+/m);
    expect(result.stdout).toContain("Workers (1):");
    expect(result.stdout).toMatch(/^ {2}worker-1\s+ONLINE\s+\d{4}-/m);
    const json = JSON.parse((await runCli(["work-pool", "inspect", "inspected", "--json"], env)).stdout) as { work_pool: WorkPool; queues: WorkQueue[]; workers: unknown[] };
    expect(json.work_pool.name).toBe("inspected");
    expect(json.queues.map((q) => q.name)).toEqual(["fast", "default"]);
    expect(json.workers).toHaveLength(1);
  });

  it("pause, resume, set-concurrency-limit, clear-concurrency-limit and delete change the pool", async () => {
    await runCli(["work-pool", "create", "changing"], env);
    expect((await runCli(["work-pool", "pause", "changing"], env)).stdout).toBe("Paused work pool 'changing'.\n");
    expect(await readPool("changing")).toMatchObject({ is_paused: true, status: "PAUSED" });
    expect((await runCli(["work-pool", "resume", "changing"], env)).stdout).toBe("Resumed work pool 'changing'.\n");
    expect(await readPool("changing")).toMatchObject({ is_paused: false, status: "NOT_READY" });
    expect((await runCli(["work-pool", "set-concurrency-limit", "changing", "4"], env)).stdout).toBe("Set the concurrency limit of work pool 'changing' to 4.\n");
    expect((await readPool("changing")).concurrency_limit).toBe(4);
    expect((await runCli(["work-pool", "set-concurrency-limit", "changing", "0"], env)).code).toBe(0);
    expect((await readPool("changing")).concurrency_limit).toBe(0);
    expect((await runCli(["work-pool", "clear-concurrency-limit", "changing"], env)).code).toBe(0);
    expect((await readPool("changing")).concurrency_limit).toBeNull();
    expect((await runCli(["work-pool", "delete", "changing"], env)).stdout).toBe("Deleted work pool 'changing'.\n");
    const gone = await runCli(["work-pool", "inspect", "changing"], env);
    expect(gone.code).toBe(1);
    expect(lines(gone.stderr)).toEqual(["error: Work pool changing not found"]);
  });

  it("an unknown pool is one line and exit code 1 for every command that names one", async () => {
    for (const args of [
      ["work-pool", "inspect", "ghost"],
      ["work-pool", "pause", "ghost"],
      ["work-pool", "resume", "ghost"],
      ["work-pool", "set-concurrency-limit", "ghost", "1"],
      ["work-pool", "clear-concurrency-limit", "ghost"],
      ["work-pool", "delete", "ghost"],
      ["work-queue", "create", "q", "--pool", "ghost"],
      ["work-queue", "ls", "--pool", "ghost"],
    ]) {
      const result = await runCli(args, env);
      expect(result.code, args.join(" ")).toBe(1);
      expect(lines(result.stderr), args.join(" ")).toEqual(["error: Work pool ghost not found"]);
    }
  });
});

describe("baton work-queue", () => {
  it("create adds a queue with a priority and limit; ls --pool lists them by priority", async () => {
    await runCli(["work-pool", "create", "queued"], env);
    const created = await runCli(["work-queue", "create", "urgent", "--pool", "queued", "--priority", "1", "--concurrency-limit", "2"], env);
    expect(created).toMatchObject({ code: 0, stderr: "" });
    expect(created.stdout).toMatch(/^Created work queue 'urgent' in work pool 'queued' \(priority 1\): [0-9a-f-]{36}\n$/);
    expect((await runCli(["work-queue", "create", "bulk", "--pool", "queued"], env)).code).toBe(0);
    const listed = await runCli(["work-queue", "ls", "--pool", "queued"], env);
    expect(listed.code).toBe(0);
    const [header, ...rows] = lines(listed.stdout);
    expect(header).toMatch(/^NAME\s+PRIORITY\s+STATUS\s+SLOTS\s+ID$/);
    expect(rows.map((r) => r.split(/\s{2,}/).slice(0, 2))).toEqual([
      ["urgent", "1"],
      ["default (default)", "2"],
      ["bulk", "3"],
    ]);
    expect(rows[0]).toMatch(/\s0\/2\s/);
    const json = JSON.parse((await runCli(["work-queue", "ls", "--pool", "queued", "--json"], env)).stdout) as WorkQueue[];
    expect(json.map((q) => q.name)).toEqual(["urgent", "default", "bulk"]);
    const duplicate = await runCli(["work-queue", "create", "bulk", "--pool", "queued"], env);
    expect(duplicate.code).toBe(1);
    expect(lines(duplicate.stderr)).toEqual(["error: A work queue named 'bulk' already exists in work pool 'queued'."]);
  });

  it("ls without --pool lists the queues of every pool with their pool", async () => {
    await runCli(["work-pool", "create", "every-1"], env);
    const result = await runCli(["work-queue", "ls"], env);
    expect(result.code).toBe(0);
    expect(lines(result.stdout)[0]).toMatch(/^POOL\s+NAME\s+PRIORITY\s+STATUS\s+SLOTS\s+ID$/);
    expect(result.stdout).toMatch(/^every-1\s+default\s+1\s+NOT_READY\s+-\s+[0-9a-f-]{36}$/m);
  });
});

describe("bad arguments", () => {
  // No server: a usage error must be caught before any request.
  const offline = { BATON_API_URL: "http://127.0.0.1:9/api" };
  const cases: Array<[string, string[], RegExp]> = [
    ["missing name", ["work-pool", "create"], /^error: missing required argument 'name'/],
    ["slash in a name", ["work-pool", "create", "a/b"], /value 'a\/b' is invalid for argument 'name'\. A name must not contain \//],
    ["negative limit", ["work-pool", "create", "p", "--concurrency-limit", "-1"], /'--concurrency-limit <n>' argument '-1' is invalid/],
    ["fractional limit", ["work-pool", "set-concurrency-limit", "p", "1.5"], /value '1\.5' is invalid for argument 'limit'/],
    ["missing limit", ["work-pool", "set-concurrency-limit", "p"], /^error: missing required argument 'limit'/],
    ["queue without a pool", ["work-queue", "create", "q"], /^error: required option '--pool <pool>' not specified/],
    ["zero priority", ["work-queue", "create", "q", "--pool", "p", "--priority", "0"], /'--priority <n>' argument '0' is invalid/],
    ["unknown subcommand", ["work-pool", "list"], /^error: unknown command 'list'/],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: one line on stderr, exit code 2`, async () => {
      const result = await runCli(args, offline);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    });
  }

  it("an unreachable server is one line naming the URL, exit code 1", async () => {
    const apiUrl = `http://127.0.0.1:${await freePort()}/api`;
    for (const args of [["work-pool", "ls"], ["work-pool", "create", "x"], ["work-queue", "ls", "--pool", "x"]]) {
      const result = await runCli(args, { BATON_API_URL: apiUrl });
      expect(result.code).toBe(1);
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr).toContain(`Cannot reach the Baton server at ${apiUrl}`);
    }
  });
});
