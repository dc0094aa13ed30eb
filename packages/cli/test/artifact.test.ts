import type { Artifact, ArtifactCollection } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, runCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;
const created: Record<string, Artifact> = {};
beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
  const make = async (name: string, body: Record<string, unknown>) => {
    created[name] = await t.client.request<Artifact>("POST", "/artifacts/", body);
  };
  await make("report1", { key: "cli-report", type: "markdown", data: "# First" });
  await make("report2", { key: "cli-report", type: "markdown", data: "# Second", description: "newer" });
  await make("table", { key: "cli-table", type: "table", data: "[[1,2]]" });
  await make("keyless", { type: "progress", data: 40 });
});
afterAll(() => t.close());

describe("baton artifact", () => {
  it("ls lists the latest of each key; --all-versions every artifact", async () => {
    const ls = await runCli(["artifact", "ls"], env);
    expect(ls.code, ls.stderr).toBe(0);
    const rows = lines(ls.stdout).slice(1);
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatch(new RegExp(`^${created["report2"]!.id}\\s+cli-report\\s+markdown\\s+# Second`));
    expect(rows[1]).toMatch(/^\S+\s+cli-table\s+table\s+\[\[1,2\]\]/);
    const all = await runCli(["artifact", "ls", "--all-versions", "--json"], env);
    const ids = (JSON.parse(all.stdout) as Artifact[]).map((a) => a.id).sort();
    expect(ids).toEqual(Object.values(created).map((a) => a.id).sort());
    const latestJson = JSON.parse((await runCli(["artifact", "ls", "--json"], env)).stdout) as ArtifactCollection[];
    expect(latestJson.map((c) => c.latest_id)).toEqual([created["report2"]!.id, created["table"]!.id]);
  });

  it("inspect shows every version of a key, newest first", async () => {
    const inspect = await runCli(["artifact", "inspect", "cli-report"], env);
    expect(inspect.code, inspect.stderr).toBe(0);
    expect(inspect.stdout).toMatch(/Key:\s+cli-report \(latest\)\nID:\s+\S+\nType:\s+markdown\nDescription:\s+newer\nData:\s+# Second/);
    expect(inspect.stdout.indexOf(created["report2"]!.id)).toBeLessThan(inspect.stdout.indexOf(created["report1"]!.id));
    const json = JSON.parse((await runCli(["artifact", "inspect", "cli-report", "--json"], env)).stdout) as Artifact[];
    expect(json.map((a) => a.id)).toEqual([created["report2"]!.id, created["report1"]!.id]);
  });

  it("delete --id removes one artifact, delete KEY every version", async () => {
    const one = await runCli(["artifact", "delete", "--id", created["report2"]!.id], env);
    expect(one.code, one.stderr).toBe(0);
    expect(one.stdout).toBe(`Deleted artifact ${created["report2"]!.id}.\n`);
    expect((await t.client.request<Artifact>("GET", "/artifacts/cli-report/latest")).id).toBe(created["report1"]!.id);
    await t.client.request("POST", "/artifacts/", { key: "cli-report", data: "# Third" });
    const key = await runCli(["artifact", "delete", "cli-report"], env);
    expect(key.code, key.stderr).toBe(0);
    expect(key.stdout).toBe("Deleted 2 versions of artifact 'cli-report'.\n");
    expect(await t.client.request<number>("POST", "/artifacts/count", { artifacts: { key: { any_: ["cli-report"] } } })).toBe(0);
    expect(await t.client.request<number>("POST", "/artifacts/latest/count", {})).toBe(1);
  });

  it("bad input: one line on stderr and a non-zero exit", async () => {
    const checks: Array<[string[], number, RegExp]> = [
      [["artifact", "inspect", "cli-missing"], 1, /^error: Artifact key 'cli-missing' not found$/],
      [["artifact", "delete", "cli-missing"], 1, /^error: Artifact key 'cli-missing' not found$/],
      [["artifact", "delete", "--id", "00000000-0000-4000-8000-000000000000"], 1, /^error: Artifact 00000000-0000-4000-8000-000000000000 not found$/],
      [["artifact", "delete", "--id", "nope"], 2, /Expected a UUID/],
      [["artifact", "delete"], 2, /^error: give either an artifact KEY or --id ID$/],
      [["artifact", "delete", "cli-table", "--id", created["table"]!.id], 2, /^error: give either an artifact KEY or --id ID$/],
      [["artifact", "inspect", "Bad_Key"], 2, /artifact key must only contain lowercase letters, numbers, and dashes/],
      [["artifact", "ls", "--limit", "0"], 2, /positive whole number/],
    ];
    for (const [args, code, message] of checks) {
      const result = await runCli(args, env);
      expect(result.code, args.join(" ")).toBe(code);
      expect(lines(result.stderr), `${args.join(" ")}: ${result.stderr}`).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(message);
    }
    expect((await t.client.request<Artifact>("GET", `/artifacts/${created["table"]!.id}`)).id).toBe(created["table"]!.id);
  });
});
