import type { Variable } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, runCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;
beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
});
afterAll(() => t.close());

const read = (name: string) => t.client.request<Variable>("GET", `/variables/name/${name}`);

describe("baton variable", () => {
  it("set parses VALUE as JSON when it is JSON, else keeps the string, and says which", async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ["cli_num", "5", 5, "a number, parsed as JSON"],
      ["cli_obj", '{"a":[1,true]}', { a: [1, true] }, "an object, parsed as JSON"],
      ["cli_quoted", '"5"', "5", "a string, parsed as JSON"],
      ["cli_plain", "hello world", "hello world", "a string (not valid JSON)"],
      ["cli_null", "null", null, "null, parsed as JSON"],
    ];
    for (const [name, text, value, how] of cases) {
      const result = await runCli(["variable", "set", name, text, "--tag", "cli", "--tag", "x"], env);
      expect(result.code, result.stderr).toBe(0);
      expect(result.stdout).toContain(how);
      const stored = await read(name);
      expect(stored.value).toEqual(value);
      expect(stored.tags).toEqual(["cli", "x"]);
    }
  });

  it("set of an existing name fails without --overwrite and replaces the value with it", async () => {
    expect((await runCli(["variable", "set", "cli_over", "1"], env)).code).toBe(0);
    const refused = await runCli(["variable", "set", "cli_over", "2"], env);
    expect(refused.code).toBe(1);
    expect(lines(refused.stderr)).toEqual(["error: Variable 'cli_over' already exists; use --overwrite to replace its value"]);
    expect((await read("cli_over")).value).toBe(1);
    const replaced = await runCli(["variable", "set", "cli_over", "[2]", "--overwrite"], env);
    expect(replaced.code, replaced.stderr).toBe(0);
    expect((await read("cli_over")).value).toEqual([2]);
  });

  it("get prints the value, ls lists, inspect shows, unset deletes", async () => {
    await t.client.request("POST", "/variables/", { name: "cli_show", value: { deep: "v" }, tags: ["shown"] });
    await t.client.request("POST", "/variables/", { name: "cli_str", value: "plain text" });
    expect((await runCli(["variable", "get", "cli_show"], env)).stdout).toBe('{"deep":"v"}\n');
    expect((await runCli(["variable", "get", "cli_str"], env)).stdout).toBe("plain text\n");
    const ls = await runCli(["variable", "ls"], env);
    expect(ls.code).toBe(0);
    const row = lines(ls.stdout).find((line) => line.startsWith("cli_show "));
    expect(row).toMatch(/^cli_show\s+\{"deep":"v"\}\s+shown\s+\d{4}-/);
    const json = JSON.parse((await runCli(["variable", "ls", "--json"], env)).stdout) as Variable[];
    expect(json.map((v) => v.name)).toContain("cli_str");
    const inspect = await runCli(["variable", "inspect", "cli_show"], env);
    expect(inspect.stdout).toMatch(/Name:\s+cli_show/);
    expect(inspect.stdout).toMatch(/Tags:\s+shown/);
    const unset = await runCli(["variable", "unset", "cli_show"], env);
    expect(unset.code).toBe(0);
    expect(unset.stdout).toBe("Unset variable 'cli_show'.\n");
    expect((await t.client.request<number>("POST", "/variables/count", { variables: { name: { any_: ["cli_show"] } } }))).toBe(0);
  });

  it("bad input: one line on stderr and a non-zero exit, before or from the server", async () => {
    const checks: Array<[string[], number, RegExp]> = [
      [["variable", "get", "cli_missing"], 1, /^error: Variable cli_missing not found$/],
      [["variable", "inspect", "cli_missing"], 1, /^error: Variable cli_missing not found$/],
      [["variable", "unset", "cli_missing"], 1, /^error: Variable cli_missing not found$/],
      [["variable", "set", "Bad-Name", "1"], 2, /variable name must only contain lowercase letters, numbers, and underscores/],
      [["variable", "set", "cli_big", JSON.stringify("x".repeat(5000))], 2, /at most 5000 bytes/],
      [["variable", "set", "cli_noval"], 2, /missing required argument 'value'/],
    ];
    for (const [args, code, message] of checks) {
      const result = await runCli(args, env);
      expect(result.code, args.join(" ")).toBe(code);
      expect(lines(result.stderr), `${args.join(" ").slice(0, 60)}: ${result.stderr}`).toHaveLength(1);
      expect(result.stderr.trim()).toMatch(message);
    }
    expect((await t.client.request<number>("POST", "/variables/count", { variables: { name: { any_: ["cli_big", "cli_noval"] } } }))).toBe(0);
  });
});
