import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { extraCaCertsNote } from "../src/extra-ca-certs.js";

describe("extraCaCertsNote", () => {
  let dir: string | undefined;
  afterEach(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("says nothing when the variable is unset or empty (Node.js reads both as unset)", () => {
    expect(extraCaCertsNote({})).toBeUndefined();
    expect(extraCaCertsNote({ NODE_EXTRA_CA_CERTS: "" })).toBeUndefined();
  });

  it("names the file, its size and the job variable that turns it off", () => {
    dir = mkdtempSync(join(tmpdir(), "baton-certs-"));
    const file = join(dir, "bundle.pem");
    writeFileSync(file, "x".repeat(3 * 1024));
    const note = extraCaCertsNote({ NODE_EXTRA_CA_CERTS: file });
    expect(note).toContain(`NODE_EXTRA_CA_CERTS is set (${file}, 3 KB)`);
    expect(note).toContain('{"env": {"NODE_EXTRA_CA_CERTS": ""}}');
  });

  it("still speaks of a file that cannot be read, without a size", () => {
    expect(extraCaCertsNote({ NODE_EXTRA_CA_CERTS: "/nonexistent/bundle.pem" })).toContain("NODE_EXTRA_CA_CERTS is set (/nonexistent/bundle.pem):");
  });
});
