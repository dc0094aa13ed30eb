import { describe, expect, it } from "vitest";
import { runCli as runCliInProcess } from "../src/program.js";
import { freePort, lines, runCli } from "./helpers.js";

// No server: a usage error must be caught before any request, so a request that slipped
// through would show up as exit code 1 (unreachable) instead of 2.
const env = { BATON_API_URL: "http://127.0.0.1:9/api" };

describe("bad arguments", () => {
  const cases: Array<[string, string[], RegExp]> = [
    ["unknown command", ["flwo", "ls"], /^error: unknown command 'flwo'/],
    ["unknown subcommand", ["flow-run", "list"], /^error: unknown command 'list'/],
    ["unknown option", ["flow", "ls", "--colour"], /^error: unknown option '--colour'/],
    ["bad number", ["flow-run", "ls", "--limit", "ten"], /^error: option '--limit <n>' argument 'ten' is invalid/],
    ["zero limit", ["flow", "ls", "--limit", "0"], /is invalid/],
    ["unknown state", ["flow-run", "ls", "--state", "done"], /argument 'done' is invalid\. Unknown state; expected one of scheduled, pending/],
    ["malformed id", ["flow-run", "inspect", "not-a-uuid"], /^error: command-argument value 'not-a-uuid' is invalid for argument 'id'/],
    ["malformed id for logs", ["flow-run", "logs", "1234"], /is invalid for argument 'id'/],
    ["missing id", ["flow-run", "inspect"], /^error: missing required argument 'id'/],
    ["extra argument", ["flow", "ls", "extra"], /^error: too many arguments/],
    ["bad port", ["server", "start", "--port", "70000"], /^error: option '--port <port>' argument '70000' is invalid/],
  ];
  for (const [name, args, message] of cases) {
    it(`${name}: one line on stderr, exit code 2`, async () => {
      const result = await runCli(args, env);
      expect(result.code).toBe(2);
      expect(result.stdout).toBe("");
      expect(result.stderr.endsWith("\n")).toBe(true);
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr).toMatch(message);
    });
  }

  it("a suggestion stays on the same line", async () => {
    const result = await runCli(["flow-runs"], env);
    expect(result.code).toBe(2);
    expect(lines(result.stderr)).toEqual(["error: unknown command 'flow-runs' (Did you mean flow-run?)"]);
  });

  it("--help prints usage on stdout and exits 0", async () => {
    const result = await runCli(["flow-run", "ls", "--help"], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^Usage: baton flow-run ls \[options\]/);
    expect(result.stdout).toContain("--state <state...>");
  });
});

describe("server unreachable", () => {
  it("names the URL in one line, exit code 1, no stack trace", async () => {
    const apiUrl = `http://127.0.0.1:${await freePort()}/api`;
    for (const args of [["flow", "ls"], ["flow-run", "ls"], ["flow-run", "inspect", "00000000-0000-4000-8000-000000000000"], ["deployment", "ls"]]) {
      const result = await runCli(args, { BATON_API_URL: apiUrl });
      expect(result.code).toBe(1);
      expect(result.stdout).toBe("");
      expect(lines(result.stderr)).toHaveLength(1);
      expect(result.stderr).toContain(`Cannot reach the Baton server at ${apiUrl}`);
      expect(result.stderr).not.toMatch(/\n\s+at /);
    }
  });

  it("a malformed BATON_API_URL is one line naming the variable", async () => {
    const result = await runCli(["flow", "ls"], { BATON_API_URL: "localhost:4200" });
    expect(result.code).toBe(1);
    expect(lines(result.stderr)).toEqual([expect.stringMatching(/^error: Invalid setting BATON_API_URL: 'localhost:4200' must start with http/)]);
  });
});

describe("runCli in-process", () => {
  it("returns the exit code and writes to the given outputs", async () => {
    let stdout = "";
    let stderr = "";
    const io = { stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) }, env };
    expect(await runCliInProcess(["flow-run", "ls", "--state", "nope"], io)).toBe(2);
    expect(stderr).toMatch(/^error: .*Unknown state/);
    expect(await runCliInProcess(["--version"], io)).toBe(0);
    expect(stdout).toMatch(/^\d+\.\d+\.\d+\n$/);
  });
});
