import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort, lines, runCli, spawnCli } from "./helpers.js";

let dir: string;
let env: Record<string, string>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "baton-cli-server-"));
  env = { BATON_DATABASE_URL: `sqlite:${join(dir, "baton.db")}`, BATON_LOG_LEVEL: "silent" };
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("baton server start", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    it(`serves the API, prints its URLs, and exits 0 on ${signal}`, async () => {
      const port = await freePort();
      const cli = spawnCli(["server", "start", "--port", String(port)], env);
      await cli.waitForStdout("Docs:");
      const base = `http://127.0.0.1:${port}`;
      const health = await fetch(`${base}/api/health`);
      expect(health.status).toBe(200);
      expect(cli.stdout()).toContain(`API:  ${base}/api`);
      expect(cli.stdout()).toContain(`Docs: ${base}/docs`);

      cli.child.kill(signal);
      const result = await cli.result;
      expect(result).toMatchObject({ code: 0, signal: null });
      expect(result.stdout).toContain("Server stopped.");
      await expect(fetch(`${base}/api/health`)).rejects.toThrow();
    });
  }

  it("a port in use is one line and exit code 1", async () => {
    const blocker = createServer();
    const port = await new Promise<number>((resolve) =>
      blocker.listen(0, "127.0.0.1", () => resolve((blocker.address() as { port: number }).port)),
    );
    try {
      const result = await runCli(["server", "start", "--port", String(port)], env);
      expect(result.code).toBe(1);
      expect(lines(result.stderr)).toEqual([`error: Port ${port} on 127.0.0.1 is already in use; pick another with --port.`]);
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});

describe("baton server services", () => {
  it("`--no-services` serves the API without background services", async () => {
    const port = await freePort();
    const cli = spawnCli(["server", "start", "--port", String(port), "--no-services"], env);
    await cli.waitForStdout("Services:");
    expect(cli.stdout()).toContain("Services: none");
    expect((await fetch(`http://127.0.0.1:${port}/api/health`)).status).toBe(200);
    cli.child.kill("SIGTERM");
    expect((await cli.result).code).toBe(0);
  });

  it("a full start names the services it runs", async () => {
    const port = await freePort();
    const cli = spawnCli(["server", "start", "--port", String(port)], { ...env, BATON_SERVER_SERVICES_LATE_RUNS_ENABLED: "true" });
    await cli.waitForStdout("Services:");
    expect(cli.stdout()).toMatch(/Services: .*late_runs/);
    cli.child.kill("SIGTERM");
    expect((await cli.result).code).toBe(0);
  });

  it("`services start` runs the services alone and stops on SIGTERM", async () => {
    const cli = spawnCli(["server", "services", "start"], env);
    await cli.waitForStdout("Baton services running");
    expect(cli.stdout()).toContain("late_runs");
    cli.child.kill("SIGTERM");
    const result = await cli.result;
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("Services stopped.");
  });

  it("`services ls` shows each service and whether it is enabled", async () => {
    const result = await runCli(["server", "services", "ls", "--json"], { ...env, BATON_SERVER_SERVICES_LATE_RUNS_ENABLED: "false" });
    expect(result.code).toBe(0);
    const rows = JSON.parse(result.stdout) as Array<{ name: string; enabled: boolean }>;
    expect(rows.find((r) => r.name === "late_runs")?.enabled).toBe(false);
    expect(rows.find((r) => r.name === "scheduler")?.enabled).toBe(true);
    const table = await runCli(["server", "services", "ls"], env);
    expect(table.stdout).toMatch(/late_runs\s+yes\s+5s/);
  });

  it("a bad service setting is one line naming the variable, exit 1", async () => {
    const result = await runCli(["server", "services", "ls"], { ...env, BATON_SERVER_SERVICES_SCHEDULER_ENABLED: "sometimes" });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toHaveLength(1);
    expect(result.stderr).toContain("BATON_SERVER_SERVICES_SCHEDULER_ENABLED");
  });
});
