/**
 * Which page file (src/pages/<file>.tsx) serves which path. The app uses it to load the
 * page's chunk at boot, and the build (vite.config.ts) to put the chunks of the page a URL
 * opens into index.html as modulepreload hints, fetched alongside the entry script.
 */
export const PAGE_ROUTES: ReadonlyArray<readonly [pattern: string, file: string]> = [
  ["^/$", "dashboard"],
  ["^/runs/?$", "flow-runs"],
  ["^/runs/[^/]+", "flow-run"],
  ["^/flows/?$", "flows"],
  ["^/flows/[^/]+", "flow"],
  ["^/deployments/?$", "deployments"],
  ["^/deployments/[^/]+", "deployment"],
  ["^/work-pools/?$", "work-pools"],
  ["^/work-pools/[^/]+", "work-pool"],
  ["^/concurrency-limits", "concurrency"],
  ["^/variables", "variables"],
  ["^/blocks", "blocks"],
  ["^/artifacts", "artifacts"],
  ["^/events", "events"],
  ["^/automations", "automations"],
];

export function pageFileFor(path: string): string | undefined {
  return PAGE_ROUTES.find(([pattern]) => new RegExp(pattern).test(path))?.[1];
}
