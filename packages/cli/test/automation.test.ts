import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Automation } from "@baton/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { lines, runCli, startTestServer, type TestServer } from "./helpers.js";

let t: TestServer;
let env: Record<string, string>;
const dir = mkdtempSync(join(tmpdir(), "baton-cli-automation-"));
beforeAll(async () => {
  t = await startTestServer();
  env = { BATON_API_URL: t.apiUrl };
});
afterAll(() => t.close());

const byName = async (name: string) => (await t.client.request<Automation[]>("POST", "/automations/filter", { automations: { name: { any_: [name] } } }))[0];

describe("baton automation", () => {
  it("creates automations from the example files, lists and inspects them", async () => {
    const single = await runCli(["automation", "create", "--file", "examples/automations/rerun-crashed.yaml"], env);
    expect(single.code, single.stderr).toBe(0);
    expect(single.stdout).toMatch(/^Created automation 'rerun crashed runs' \([0-9a-f-]{36}\)\n$/);
    const several = await runCli(["automation", "create", "--file", "examples/automations/silence-and-sequence.yaml"], env);
    expect(several.code, several.stderr).toBe(0);
    expect(lines(several.stdout)).toHaveLength(2);
    const ls = await runCli(["automation", "ls"], env);
    expect(ls.code).toBe(0);
    expect(lines(ls.stdout)[0]).toMatch(/^NAME\s+ID\s+ENABLED\s+TRIGGER\s+ACTIONS$/);
    expect(ls.stdout).toMatch(/ingest went quiet\s+\S+\s+yes\s+Proactive ingest.heartbeat within 300s\s+do-nothing/);
    expect(ls.stdout).toMatch(/extract then load\s+\S+\s+yes\s+sequence 2 in order within 3600s/);
    const inspect = await runCli(["automation", "inspect", "rerun crashed runs"], env);
    expect(inspect.stdout).toMatch(/Trigger:\s+Reactive prefect.flow-run.Crashed/);
    const yaml = await runCli(["automation", "inspect", "rerun crashed runs", "--yaml"], env);
    const again = join(dir, "again.yaml");
    writeFileSync(again, yaml.stdout.replace("name: rerun crashed runs", "name: copy of it"));
    expect((await runCli(["automation", "create", "-f", again], env)).code).toBe(0);
    expect((await byName("copy of it"))?.trigger).toMatchObject({ posture: "Reactive", expect: ["prefect.flow-run.Crashed"] });
  });

  it("disables, enables and deletes by name or id", async () => {
    const target = (await byName("ingest went quiet"))!;
    expect((await runCli(["automation", "disable", "ingest went quiet"], env)).stdout).toBe("Disabled automation 'ingest went quiet'\n");
    expect((await byName("ingest went quiet"))?.enabled).toBe(false);
    expect((await runCli(["automation", "enable", target.id], env)).code).toBe(0);
    expect((await byName("ingest went quiet"))?.enabled).toBe(true);
    expect((await runCli(["automation", "delete", "ingest went quiet"], env)).code).toBe(0);
    expect(await byName("ingest went quiet")).toBeUndefined();
    const missing = await runCli(["automation", "delete", "ingest went quiet"], env);
    expect(missing.code).toBe(1);
    expect(lines(missing.stderr)).toEqual(["error: Automation ingest went quiet not found"]);
  });

  it("says which field of which automation the server refused, and refuses files that are not automations", async () => {
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "name: bad\ntrigger: {posture: Reactive}\nactions:\n  - type: launch-rocket\n");
    const refused = await runCli(["automation", "create", "--file", bad], env);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("automation 'bad'");
    expect(refused.stderr).toContain("body.actions.0.type: unknown action type");
    const template = join(dir, "template.yaml");
    writeFileSync(template, "name: t\ntrigger: {posture: Reactive}\nactions:\n  - {type: call-webhook, block_document_id: 11111111-1111-4111-8111-111111111111, payload: '{{ oops'}\n");
    expect((await runCli(["automation", "create", "--file", template], env)).stderr).toContain("body.actions.0.payload: is not a valid template");
    const notYaml = join(dir, "broken.yaml");
    writeFileSync(notYaml, "name: [unclosed\n");
    expect((await runCli(["automation", "create", "--file", notYaml], env)).code).toBe(2);
    expect((await runCli(["automation", "create", "--file", join(dir, "nope.yaml")], env)).code).toBe(2);
  });
});
