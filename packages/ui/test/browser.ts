import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type BrowserContext, type Page, type Response } from "playwright-core";

/** Debian's Chromium (`.ci/run` installs it with apt when missing). */
export const CHROMIUM = process.env.BATON_TEST_CHROMIUM ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];

export interface Browser {
  context: BrowserContext;
  page: Page;
  /** Every answer of 4xx/5xx the page received, as `STATUS METHOD URL`, except those `allowed` accepts. */
  failures: string[];
  close(): Promise<void>;
}

/**
 * Headless Chromium with a fresh profile (its own --user-data-dir, removed on close), one
 * page, and a record of every failed response so a test can require there were none.
 */
export async function openBrowser(options: { width?: number; height?: number; allowed?: (response: Response) => boolean; colorScheme?: "light" | "dark" } = {}): Promise<Browser> {
  const profile = mkdtempSync(join(tmpdir(), "baton-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: options.width ?? 1280, height: options.height ?? 800 },
    colorScheme: options.colorScheme ?? "light",
  });
  // Generous for a shared 2-core machine; a test that waits this long has failed anyway.
  context.setDefaultTimeout(20_000);
  const page = context.pages()[0] ?? (await context.newPage());
  const failures: string[] = [];
  const onResponse = (response: Response) => {
    if (response.status() >= 400 && !options.allowed?.(response)) failures.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  };
  context.on("response", onResponse);
  page.on("pageerror", (error) => failures.push(`page error: ${error.message}`));
  return {
    context,
    page,
    failures,
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}
