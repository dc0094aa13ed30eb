import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Prefect on SQLite answers 503 "database is locked" from two concurrent clients. Baton
 * must not: here two server processes share one SQLite file while 16 clients drive runs
 * through both at once, and every request must succeed.
 */
describe("SQLite under concurrent writers", () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-conc-"));
  const url = `sqlite:${join(dir, "baton.db")}`;
  const children: ChildProcess[] = [];
  const apiUrls: string[] = [];

  beforeAll(async () => {
    const script = `import { startServer } from "@baton/server";
      const s = await startServer({ config: { port: 0, databaseUrl: ${JSON.stringify(url)}, logLevel: "silent" } });
      console.log(s.apiUrl);`;
    for (let i = 0; i < 2; i++) {
      const child = spawn(process.execPath, ["--input-type=module", "-e", script], { stdio: ["ignore", "pipe", "inherit"] });
      children.push(child);
      const line = await new Promise<string>((resolve, reject) => {
        createInterface({ input: child.stdout! }).once("line", resolve);
        child.once("exit", (code) => reject(new Error(`server exited with ${code}`)));
      });
      apiUrls.push(line.trim());
    }
  });
  afterAll(() => {
    for (const child of children) child.kill("SIGTERM");
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers every request from 16 clients across two server processes", async () => {
    const statuses: number[] = [];
    const call = async (apiUrl: string, path: string, body: unknown) => {
      const response = await fetch(`${apiUrl}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
      statuses.push(response.status);
      return response.json() as Promise<{ id: string; status?: string }>;
    };
    const flow = await call(apiUrls[0]!, "/flows/", { name: "concurrent" });
    let accepted = 0;
    await Promise.all(
      Array.from({ length: 16 }, async (_, client) => {
        const apiUrl = apiUrls[client % 2]!;
        for (let i = 0; i < 15; i++) {
          const run = await call(apiUrl, "/flow_runs/", { flow_id: flow.id, state: { type: "SCHEDULED" } });
          for (const type of ["PENDING", "RUNNING", "COMPLETED"]) {
            const result = await call(apiUrl, `/flow_runs/${run.id}/set_state`, { state: { type } });
            if (result.status === "ACCEPT") accepted += 1;
          }
        }
      }),
    );
    expect(statuses.filter((s) => s >= 300)).toEqual([]);
    expect(accepted).toBe(16 * 15 * 3);
  });
});
