import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestServer, type TestServer } from "../../server/test/harness.js";
import { openBrowser, type Browser } from "./browser.js";
import { pagePaths, seed, type Seeded } from "./seed.js";

/** Themes, the phone layout and the keyboard, on a seeded server. */
describe("web UI layout, themes and keyboard", { timeout: 60_000 }, () => {
  let server: TestServer;
  let data: Seeded;
  const browsers: Browser[] = [];
  const allowed = (r: { url(): string; status(): number }) => r.url().includes("/api/automations/") && r.status() === 404;

  beforeAll(async () => {
    server = await startTestServer("sqlite");
    data = await seed(server);
  }, 60_000);
  afterAll(async () => {
    for (const browser of browsers) await browser.close();
    await server?.close();
  });
  const open = async (options: Parameters<typeof openBrowser>[0] = {}) => {
    const browser = await openBrowser({ allowed, ...options });
    browsers.push(browser);
    return browser;
  };

  it("every page fits a phone's width (390 px): nothing scrolls sideways but tables in their own box", async () => {
    const { page, failures } = await open({ width: 390, height: 844 });
    for (const [name, path] of pagePaths(data)) {
      await page.goto(`${server.url}${path}`);
      await page.locator("main h1").first().waitFor();
      await page.waitForLoadState("networkidle");
      const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
      expect(overflow, `${name} overflows by ${overflow}px`).toBeLessThanOrEqual(0);
    }
    // The menu is one button away.
    await page.getByRole("button", { name: "Menu" }).click();
    await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Variables" }).click();
    await page.getByRole("heading", { name: "Variables" }).waitFor();
    expect(failures).toEqual([]);
  }, 120_000);

  it("dark and light themes: follows the system, and a choice is kept across reloads", async () => {
    const { page, failures } = await open({ colorScheme: "dark" });
    await page.goto(`${server.url}/`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    const dark = await background();
    expect(dark).toBe("rgb(18, 21, 27)");
    await page.getByLabel("Theme").selectOption("light");
    expect(await background()).toBe("rgb(247, 248, 250)");
    await page.reload();
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    expect(await page.evaluate(() => document.documentElement.dataset.theme)).toBe("light");
    expect(await background()).toBe("rgb(247, 248, 250)");
    await page.getByLabel("Theme").selectOption("system");
    expect(await background()).toBe(dark);
    expect(failures).toEqual([]);
  });

  it("keyboard: g then a letter goes to a page, / focuses the filter, ? lists shortcuts, arrows move between tabs", async () => {
    const { page, failures } = await open();
    await page.goto(`${server.url}/`);
    await page.getByRole("heading", { name: "Dashboard" }).waitFor();
    await page.keyboard.press("g");
    await page.keyboard.press("r");
    await page.getByRole("heading", { name: "Flow runs" }).waitFor();
    await page.keyboard.press("/");
    expect(await page.evaluate(() => document.activeElement?.getAttribute("aria-label"))).toBe("Run name");
    await page.keyboard.press("Escape");
    await page.locator("body").click();
    await page.keyboard.press("?");
    await page.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor();
    await page.keyboard.press("Escape");
    await page.getByRole("button", { name: "Close" }).click();
    await page.goto(`${server.url}/runs/${data.runs.completed}`);
    await page.getByRole("tab", { name: "Logs" }).focus();
    await page.keyboard.press("ArrowRight");
    expect(await page.getByRole("tab", { name: /Task runs/ }).getAttribute("aria-selected")).toBe("true");
    expect(await page.evaluate(() => document.activeElement?.textContent)).toMatch(/Task runs/);
    expect(failures).toEqual([]);
  });

  it("the runs list updates by itself when a run is created or changes state", async () => {
    const { page, failures } = await open();
    await page.goto(`${server.url}/runs`);
    await page.locator(`[data-run-id="${data.runs.completed}"]`).waitFor();
    const created = await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: data.flowId, name: "late-arrival" });
    await page.locator(`[data-run-id="${created.body.id}"]`).waitFor({ timeout: 10_000 });
    await server.call("POST", `/flow_runs/${created.body.id}/set_state`, { state: { type: "RUNNING" }, force: true });
    await page.locator(`[data-run-id="${created.body.id}"] [data-state="RUNNING"]`).waitFor({ timeout: 10_000 });
    expect(failures).toEqual([]);
  }, 60_000);
});
