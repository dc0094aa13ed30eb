import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, startServer, type RunningServer } from "@baton/server";

/** Serving the web UI: /ui-settings, the SPA fallback and BATON_UI_ENABLED (no browser needed). */
describe("web UI serving", () => {
  const dir = mkdtempSync(join(tmpdir(), "baton-webui-"));
  const servers: RunningServer[] = [];
  const start = async (env: Record<string, string>) => {
    const config = loadConfig({ BATON_HOME: dir, ...env });
    const server = await startServer({ config: { ...config, port: 0, host: "127.0.0.1", databaseUrl: `sqlite:${join(dir, `${servers.length}.db`)}`, logLevel: "silent" }, services: false });
    servers.push(server);
    return server;
  };
  let on: RunningServer;
  let off: RunningServer;
  beforeAll(async () => {
    on = await start({ BATON_UI_API_URL: "https://baton.example.com/api" });
    off = await start({ BATON_UI_ENABLED: "false" });
  });
  afterAll(async () => {
    for (const server of servers) await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("answers /ui-settings with the configured API URL, or the request's host", async () => {
    expect(await (await fetch(`${on.url}/ui-settings`)).json()).toEqual({ api_url: "https://baton.example.com/api", csrf_enabled: false, auth: null, flags: [] });
    expect(await (await fetch(`${off.url}/ui-settings`)).json()).toMatchObject({ api_url: `${off.url}/api` });
  });

  it("serves the app at / and client routes, never for /api, /docs or asset files", async () => {
    for (const path of ["/", "/runs", "/runs/0b7e1c2a-5d3f-4a8e-9c61-2f4d8e6a1b3c", "/work-pools/local?x=1"]) {
      const response = await fetch(`${on.url}${path}`);
      expect(response.status, path).toBe(200);
      expect(response.headers.get("content-type"), path).toContain("text/html");
    }
    for (const path of ["/api/nope", "/api", "/docs/nope", "/assets/nope.js"]) {
      const response = await fetch(`${on.url}${path}`);
      expect(response.status, path).toBe(404);
    }
    expect(await (await fetch(`${on.url}/api/nope`)).json()).toEqual({ detail: "Not Found: GET /api/nope" });
    // A POST to a client route is not the app.
    expect((await fetch(`${on.url}/runs`, { method: "POST" })).status).toBe(404);
  });

  it("with BATON_UI_ENABLED=false serves no UI, but the API and /ui-settings", async () => {
    expect((await fetch(`${off.url}/`)).status).toBe(404);
    expect((await fetch(`${off.url}/runs`)).status).toBe(404);
    expect((await fetch(`${off.url}/api/health`)).status).toBe(200);
  });

  it("refuses a BATON_UI_ENABLED that is not a boolean, naming the variable", () => {
    expect(() => loadConfig({ BATON_UI_ENABLED: "maybe" })).toThrow(/BATON_UI_ENABLED/);
  });
});
