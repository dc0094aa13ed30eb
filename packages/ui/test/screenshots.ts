/**
 * Screenshots of every page of the web UI against a seeded server, for docs/screenshots/:
 * each page at 1,280 px in the light theme, and each on a phone (390 px) in the dark theme.
 *
 *   npm run ui:screenshots            (after npm run build)
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { startTestServer } from "../../server/test/harness.js";
import { openBrowser } from "./browser.js";
import { pagePaths, seed } from "./seed.js";

const OUT = join(dirname(fileURLToPath(import.meta.url)), "../../../docs/screenshots");
mkdirSync(OUT, { recursive: true });
const server = await startTestServer("sqlite");
try {
  const data = await seed(server);
  // A little history for the charts: runs over the past hours in several states.
  for (let i = 0; i < 40; i++) {
    const type = ["COMPLETED", "COMPLETED", "COMPLETED", "FAILED", "CANCELLED"][i % 5]!;
    const when = new Date(Date.now() - (i + 1) * 25 * 60_000).toISOString();
    await server.call("POST", "/flow_runs/", { flow_id: i % 2 ? data.flowId : data.otherFlowId, name: `history-${i}`, state: { type, timestamp: when } });
  }
  const allowed = (r: { url(): string; status(): number }) => r.url().includes("/api/automations/") && r.status() === 404;
  for (const [suffix, options] of [
    ["", { width: 1280, height: 800, colorScheme: "light" as const }],
    ["-phone-dark", { width: 390, height: 844, colorScheme: "dark" as const }],
  ] as const) {
    const browser = await openBrowser({ ...options, allowed });
    for (const [name, path] of pagePaths(data)) {
      await browser.page.goto(`${server.url}${path}`);
      await browser.page.locator("main h1").first().waitFor();
      await browser.page.waitForLoadState("networkidle");
      if (name === "flow-run" && !suffix) {
        await browser.page.getByRole("tab", { name: "Graph" }).click();
        await browser.page.locator(".graph svg").waitFor();
      }
      const file = join(OUT, `${name}${suffix}.png`);
      await browser.page.screenshot({ path: file });
      console.log(file);
    }
    if (browser.failures.length) throw new Error(`failed requests: ${browser.failures.join(", ")}`);
    await browser.close();
  }
} finally {
  await server.close();
}
