import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/test/harness.js";
import { openBrowser, type Browser } from "./browser.js";
import { seed, type Seeded } from "./seed.js";

/**
 * The web UI in headless Chromium against a real Baton server (SQLite) with seeded runs:
 * each page shows its data, actions reach the API, and no request answers 4xx/5xx.
 */
describe("web UI", () => {
  let server: TestServer;
  let browser: Browser;
  let data: Seeded;

  beforeAll(async () => {
    server = await startTestServer("sqlite");
    data = await seed(server);
    browser = await openBrowser({ allowed: (r) => r.url().includes("/api/automations/") && r.status() === 404 });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await server?.close();
  });

  const visit = async (path: string) => {
    await browser.page.goto(`${server.url}${path}`);
  };

  it("serves /ui-settings as Prefect's server does", async () => {
    const response = await fetch(`${server.url}/ui-settings`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ api_url: `${server.apiUrl}`, csrf_enabled: false, auth: null, flags: [] });
  });

  it("answers client-side routes with the app, but unknown API paths with a JSON 404", async () => {
    const app = await fetch(`${server.url}/runs/${data.runs.completed}`);
    expect(app.status).toBe(200);
    expect(app.headers.get("content-type")).toContain("text/html");
    expect(await app.text()).toContain('<div id="root">');
    const api = await fetch(`${server.url}/api/no_such_thing`);
    expect(api.status).toBe(404);
    expect(await api.json()).toHaveProperty("detail");
    const asset = await fetch(`${server.url}/assets/missing.js`);
    expect(asset.status).toBe(404);
  });

  it("dashboard shows failed runs", async () => {
    await visit("/");
    await browser.page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await browser.page.locator(`[data-run-id="${data.runs.failed}"]`).first().waitFor();
  });

  it("flow runs page lists runs and filters them by state", async () => {
    await visit("/runs");
    await browser.page.locator(`[data-run-id="${data.runs.completed}"]`).waitFor();
    await browser.page.getByLabel("State").selectOption("FAILED");
    await browser.page.locator(`[data-run-id="${data.runs.completed}"]`).waitFor({ state: "detached" });
    await browser.page.locator(`[data-run-id="${data.runs.failed}"]`).waitFor();
  });

  it("had no failed requests", () => {
    expect(browser.failures).toEqual([]);
  });
});
