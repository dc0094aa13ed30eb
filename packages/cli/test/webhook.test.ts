import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Webhook } from "@baton/core";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli as runCliInProcess } from "../src/program.js";
import { lines, runCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), "baton-cli-webhook-"));
beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
});
afterAll(() => t.close());

const TEMPLATE = '{"event": "test.{{ body.kind }}", "resource": {"prefect.resource.id": "test.hook.{{ query.who }}"}}';
const byName = async (name: string) => (await t.client.request<Webhook[]>("POST", "/webhooks/filter", {})).find((w) => w.name === name);
const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${url}?who=cli`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify(body) });
const urlIn = (stdout: string) => /^URL: (\S+)$/m.exec(stdout)?.[1] ?? "";

describe("baton webhook", () => {
  it("creates a webhook whose printed URL turns requests into events, lists and inspects it", async () => {
    const created = await runCli(["webhook", "create", "ci", "--template", TEMPLATE, "--description", "from CI", "--secret", "a-long-shared-secret-value"], env);
    expect(created.code, created.stderr).toBe(0);
    expect(lines(created.stdout)[0]).toMatch(/^Created webhook 'ci' \([0-9a-f-]{36}\)$/);
    const url = urlIn(created.stdout);
    expect(url).toMatch(new RegExp(`^${t.server.url}/hooks/[A-Za-z0-9_-]+$`));
    expect((await post(url, { kind: "built" })).status).toBe(401);
    const accepted = await post(url, { kind: "built" }, { "x-baton-webhook-secret": "a-long-shared-secret-value" });
    expect(accepted.status).toBe(204);

    const file = join(dir, "template.json");
    writeFileSync(file, TEMPLATE);
    expect((await runCli(["webhook", "create", "from-file", "--template-file", file, "--disabled"], env)).code).toBe(0);
    expect((await byName("from-file"))?.enabled).toBe(false);

    const ls = await runCli(["webhook", "ls"], env);
    expect(ls.code).toBe(0);
    expect(lines(ls.stdout)[0]).toMatch(/^NAME\s+ID\s+ENABLED\s+SECRET\s+URL$/);
    expect(ls.stdout).toMatch(new RegExp(`ci\\s+\\S+\\s+yes\\s+yes\\s+${url}`));
    expect(ls.stdout).toMatch(/from-file\s+\S+\s+no\s+no\s+/);
    const inspect = await runCli(["webhook", "inspect", "ci"], env);
    expect(inspect.stdout).toMatch(/Description:\s+from CI/);
    expect(inspect.stdout).toMatch(/Secret:\s+set \(not shown\)/);
    expect(inspect.stdout).not.toContain("a-long-shared-secret-value");
    expect(inspect.stdout).toContain(`URL:`);
    const json = JSON.parse((await runCli(["webhook", "inspect", (await byName("ci"))!.id, "--json"], env)).stdout) as Webhook;
    expect(json).toMatchObject({ name: "ci", secret: "********", template: TEMPLATE });
  });

  it("rotates a webhook's URL (the old one stops working), disables, enables and deletes it", async () => {
    const before = (await byName("ci"))!;
    const oldUrl = `${t.server.url}/hooks/${before.slug}`;
    const rotated = await runCli(["webhook", "rotate", "ci"], env);
    expect(rotated.code, rotated.stderr).toBe(0);
    const newUrl = urlIn(rotated.stdout);
    expect(newUrl).not.toBe(oldUrl);
    const secret = { "x-baton-webhook-secret": "a-long-shared-secret-value" };
    expect((await post(oldUrl, { kind: "x" }, secret)).status).toBe(404);
    expect((await post(newUrl, { kind: "x" }, secret)).status).toBe(204);

    expect((await runCli(["webhook", "disable", "ci"], env)).stdout).toBe("Disabled webhook 'ci'\n");
    expect((await post(newUrl, { kind: "x" }, secret)).status).toBe(404);
    expect((await runCli(["webhook", "enable", before.id], env)).code).toBe(0);
    expect((await post(newUrl, { kind: "x" }, secret)).status).toBe(204);

    expect((await runCli(["webhook", "delete", "ci"], env)).stdout).toBe("Deleted webhook 'ci'\n");
    expect(await byName("ci")).toBeUndefined();
    const missing = await runCli(["webhook", "delete", "ci"], env);
    expect(missing.code).toBe(1);
    expect(lines(missing.stderr)).toEqual(["error: Webhook ci not found"]);
    const missingId = await runCli(["webhook", "rotate", before.id], env);
    expect(missingId.code).toBe(1);
    expect(lines(missingId.stderr)).toEqual([`error: Webhook ${before.id} not found`]);
  });

  it("takes the secret from standard input or BATON_WEBHOOK_SECRET, off the command line", async () => {
    const secret = "a-secret-kept-off-the-command-line";
    const accepts = async (stdout: string) => {
      const url = urlIn(stdout);
      expect((await post(url, { kind: "x" })).status).toBe(401);
      expect((await post(url, { kind: "x" }, { "x-baton-webhook-secret": secret })).status).toBe(204);
    };
    const piped = await runCli(["webhook", "create", "from-stdin", "--template", TEMPLATE, "--secret-stdin"], env, `${secret}\n`);
    expect(piped.code, piped.stderr).toBe(0);
    await accepts(piped.stdout);
    const fromEnv = await runCli(["webhook", "create", "from-env", "--template", TEMPLATE], { ...env, BATON_WEBHOOK_SECRET: secret });
    expect(fromEnv.code, fromEnv.stderr).toBe(0);
    await accepts(fromEnv.stdout);
    // Standard input wins over the variable; the option and standard input together are refused.
    const both = await runCli(["webhook", "create", "stdin-over-env", "--template", TEMPLATE, "--secret-stdin"], { ...env, BATON_WEBHOOK_SECRET: "the-variable-secret-value" }, secret);
    expect(both.code, both.stderr).toBe(0);
    await accepts(both.stdout);
    const twice = await runCli(["webhook", "create", "twice", "--template", TEMPLATE, "--secret", secret, "--secret-stdin"], env, secret);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toContain("not both");
    const empty = await runCli(["webhook", "create", "empty", "--template", TEMPLATE, "--secret-stdin"], env, "");
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain("no secret on standard input");
    expect(await byName("twice")).toBeUndefined();
    expect(await byName("empty")).toBeUndefined();
    const help = await runCli(["webhook", "create", "--help"], env);
    expect(help.stdout).toContain("--secret-stdin");
    expect(help.stdout).toContain("BATON_WEBHOOK_SECRET");
  });

  it("run in-process, reads the secret from the context's env and stdin, not the process's", async () => {
    const secret = "a-secret-from-the-context-env";
    let out = "";
    const output = { write: (text: string) => (out += text) };
    const sink = { write: () => true };
    const fromEnv = await runCliInProcess(["webhook", "create", "ctx-env", "--template", TEMPLATE], { env: { ...env, BATON_WEBHOOK_SECRET: secret }, stdout: output, stderr: sink });
    expect(fromEnv).toBe(0);
    const url = urlIn(out);
    expect((await post(url, { kind: "x" })).status).toBe(401);
    expect((await post(url, { kind: "x" }, { "x-baton-webhook-secret": secret })).status).toBe(204);
    out = "";
    const fromStdin = await runCliInProcess(["webhook", "create", "ctx-stdin", "--template", TEMPLATE, "--secret-stdin"], { env, stdout: output, stderr: sink, stdin: Readable.from([`${secret}\n`]) });
    expect(fromStdin).toBe(0);
    expect((await post(urlIn(out), { kind: "x" }, { "x-baton-webhook-secret": secret })).status).toBe(204);
  });

  it("says what is wrong with bad input", async () => {
    const none = await runCli(["webhook", "create", "no-template"], env);
    expect(none.code).toBe(2);
    expect(lines(none.stderr)).toEqual(["error: a webhook needs a template: --template '<json>' or --template-file <path>"]);
    const both = await runCli(["webhook", "create", "both", "--template", TEMPLATE, "--template-file", "x.json"], env);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("not both");
    const unreadable = await runCli(["webhook", "create", "unreadable", "--template-file", join(dir, "nope.json")], env);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain("ENOENT");
    const badTemplate = await runCli(["webhook", "create", "broken", "--template", '{"event": "{{ oops"}'], env);
    expect(badTemplate.code).toBe(1);
    expect(badTemplate.stderr).toContain("webhook 'broken' was refused");
    expect(badTemplate.stderr).toContain("body.template");
    const shortSecret = await runCli(["webhook", "create", "weak", "--template", TEMPLATE, "--secret", "short"], env);
    expect(shortSecret.code).toBe(1);
    expect(shortSecret.stderr).toContain("body.secret: must be at least 16 characters");
    const badLimit = await runCli(["webhook", "ls", "--limit", "zero"], env);
    expect(badLimit.code).toBe(2);
    expect(await byName("broken")).toBeUndefined();
  });
});
