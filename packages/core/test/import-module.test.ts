import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { IMPORT_MODULE_HOOK, importModule } from "../src/import-module.js";

describe("importModule", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
    delete (globalThis as { [IMPORT_MODULE_HOOK]?: unknown })[IMPORT_MODULE_HOOK];
  });

  it("imports builtins and file URLs natively when no loader registered its hook", async () => {
    expect((await importModule<typeof import("node:path")>("node:path")).sep).toBe("/");
    dir = mkdtempSync(join(tmpdir(), "baton-import-module-"));
    writeFileSync(join(dir, "m.mjs"), "export default 42;\n");
    expect((await importModule<{ default: number }>(pathToFileURL(join(dir, "m.mjs")).href)).default).toBe(42);
  });

  it("goes through the hook a bundle loader registered", async () => {
    const asked: string[] = [];
    (globalThis as { [IMPORT_MODULE_HOOK]?: (s: string) => Promise<unknown> })[IMPORT_MODULE_HOOK] = async (specifier) => {
      asked.push(specifier);
      return { from: "hook" };
    };
    expect(await importModule("node:path")).toEqual({ from: "hook" });
    expect(asked).toEqual(["node:path"]);
  });
});
