import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { Deployment } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN, cliEnv, lines, runCli, startTestServer, type TestServer } from "./helpers.js";

const EXAMPLE_DIR = fileURLToPath(new URL("../../../examples/deploy/", import.meta.url)).replace(/\/$/, "");
const EXAMPLE_FILE = join(EXAMPLE_DIR, "baton.yaml");
const FLOWS = join(EXAMPLE_DIR, "flows.ts");

let t: TestServer;
let env: Record<string, string>;
let dir: string;

beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
  dir = mkdtempSync(join(tmpdir(), "baton-deploy-test-"));
  await t.client.request("POST", "/work_pools/", { name: "local", type: "process" });
});
afterAll(async () => {
  await t.close();
  rmSync(dir, { recursive: true, force: true });
});

function readDeployment(fullName: string): Promise<Deployment> {
  return t.client.request<Deployment>("GET", `/deployments/name/${fullName}`);
}

async function deploymentCount(): Promise<number> {
  return t.client.request<number>("POST", "/deployments/count", {});
}

/** Writes a deployment file into the test's folder and returns its path. */
function deploymentFile(name: string, text: string): string {
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe("baton deploy", () => {
  it("creates the example's deployments from their entrypoints, then updates them; --name picks one", async () => {
    const first = await runCli(["deploy", "--file", EXAMPLE_FILE], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^Deployment 'heartbeat\/every-10-minutes' created \([0-9a-f-]{36}\): work pool 'local', every 600 s$/m);
    expect(first.stdout).toMatch(/^Deployment 'etl\/daily' created \([0-9a-f-]{36}\): work pool 'local', cron "0 6 \* \* \*" \(Europe\/Berlin\)$/m);
    expect(first.stdout).toContain("baton worker start --pool local");

    const daily = await readDeployment("etl/daily");
    expect(daily).toMatchObject({
      entrypoint: "flows.ts:etl",
      path: EXAMPLE_DIR,
      work_pool_name: "local",
      parameters: { limit: 10 },
      tags: ["etl", "example"],
      concurrency_limit: 1,
      description: "The day's rows, every morning at 06:00 Berlin time",
      parameter_openapi_schema: {
        properties: { date: { title: "date", position: 0 }, limit: { title: "limit", position: 1, type: "number", default: 10 } },
        required: ["date"],
      },
    });
    expect(daily.schedules).toHaveLength(1);
    expect(daily.schedules[0]).toMatchObject({ schedule: { cron: "0 6 * * *", timezone: "Europe/Berlin" }, active: true, parameters: { date: "today" } });
    const heartbeat = await readDeployment("heartbeat/every-10-minutes");
    expect(heartbeat.schedules[0]?.schedule).toMatchObject({ interval: 600 });
    // The flow's own description is used when the file gives none.
    expect(heartbeat.description).toBe("Logs that the scheduler and a worker are alive");

    const again = await runCli(["deploy", "--file", EXAMPLE_FILE, "--name", "daily"], env);
    expect(again.code, again.stderr).toBe(0);
    expect(lines(again.stdout).filter((line) => line.startsWith("Deployment "))).toEqual([
      `Deployment 'etl/daily' updated (${daily.id}): work pool 'local', cron "0 6 * * *" (Europe/Berlin)`,
    ]);
  });

  const base = (extra: string) => `deployments:\n  - name: broken\n    entrypoint: ${FLOWS}:etl\n    work_pool: { name: local }\n${extra}`;
  const cases: Array<[string, string, RegExp]> = [
    ["an unknown field", "deployments:\n  - name: broken\n    entrypont: flows.ts:etl\n    work_pool: { name: local }\n", /:3: deployments\[0\]\.entrypont: unknown field \(expected one of name, entrypoint, work_pool/],
    ["a missing entrypoint", "deployments:\n  - name: broken\n    work_pool: { name: local }\n", /:2: deployments\[0\]\.entrypoint: required field is missing$/],
    ["a bad cron expression", base("    schedules:\n      - cron: '61 * * * *'\n"), /:6: deployments\[0\]\.schedules\[0\]\.cron: invalid cron expression "61 \* \* \* \*"/],
    ["an unknown time zone", base("    schedules:\n      - cron: '0 6 * * *'\n        timezone: Mars/Olympus\n"), /:7: deployments\[0\]\.schedules\[0\]\.timezone: must be an IANA time zone name/],
    ["a schedule of no known kind", base("    schedules:\n      - every: 5\n"), /:6: deployments\[0\]\.schedules\[0\]: a schedule needs one of cron, interval or rrule$/],
    ["a parameter the flow does not have", base("    parameters: { dat: 1 }\n"), /:5: deployments\[0\]\.parameters\.dat: matches no parameter of flow 'etl' \(its parameters: date, limit\)$/],
    ["a parameter of the wrong type", base("    parameters: { limit: lots }\n"), /:5: deployments\[0\]\.parameters\.limit: must be number$/],
    ["an entrypoint without that export", `deployments:\n  - name: broken\n    entrypoint: ${FLOWS}:nope\n    work_pool: { name: local }\n`, /:3: deployments\[0\]\.entrypoint: .*has no export named 'nope' \(its exports: etl, heartbeat\)$/],
    ["an entrypoint file that does not exist", "deployments:\n  - name: broken\n    entrypoint: missing.ts:etl\n    work_pool: { name: local }\n", /:3: deployments\[0\]\.entrypoint: no such file: .*missing\.ts$/],
    ["a work pool that does not exist", base("").replace("{ name: local }", "{ name: nowhere }"), /:4: deployments\[0\]\.work_pool\.name: work pool 'nowhere' does not exist .*baton work-pool create nowhere$/],
    ["YAML that does not parse", "deployments:\n  - name: broken\n   entrypoint: [x\n", /:3:\d+: not valid YAML: /],
    ["an empty file", "", /:1: the file is empty; expected `deployments:` and a list of deployments$/],
    ["an empty list", "deployments: []\n", /:1: deployments: must list at least one deployment$/],
  ];
  for (const [what, text, expected] of cases) {
    it(`refuses ${what}: one line naming the file, line and field, exit 1, nothing written`, async () => {
      const before = await deploymentCount();
      const file = deploymentFile("baton.yaml", text);
      const result = await runCli(["deploy", "--file", file], env);
      expect(result.code, result.stdout).toBe(1);
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(new RegExp(`^error: ${file.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}`));
      expect(result.stderr.trim()).toMatch(expected);
      expect(result.stdout).toBe("");
      expect(await deploymentCount()).toBe(before);
    });
  }

  it("refuses a missing file and an unknown --name with one line and exit 1", async () => {
    const missing = await runCli(["deploy", "--file", join(dir, "nope.yaml")], env);
    expect(missing.code).toBe(1);
    expect(missing.stderr.trim()).toBe(`error: ${join(dir, "nope.yaml")}: no such file (give another with --file)`);
    const unknown = await runCli(["deploy", "--file", EXAMPLE_FILE, "--name", "weekly"], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr.trim()).toBe(`error: ${EXAMPLE_FILE} describes no deployment named 'weekly' (it describes heartbeat/every-10-minutes, etl/daily)`);
  });

  it("reads ./baton.yaml by default, with entrypoints relative to it", async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
      const child = spawn(process.execPath, [BIN, "deploy"], { cwd: EXAMPLE_DIR, env: cliEnv(env), stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
    });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/Deployment 'etl\/daily' (created|updated)/);
    expect((await readDeployment("etl/daily")).path).toBe(EXAMPLE_DIR);

    const elsewhere = await runCli(["deploy"], env);
    expect(elsewhere.code).toBe(1);
    expect(elsewhere.stderr.trim()).toBe("error: baton.yaml: no such file (give another with --file)");
  });
});
