import { createElement, Suspense, use, useEffect, useState, type ComponentType } from "react";
import { Link, Route, Switch, useLocation } from "wouter";
import type { UiSettings } from "./api";
import { pageFileFor } from "./page-routes";
import { useGet } from "./queries";

// One chunk per page: the first screen loads only what it shows.
const loaders = {
  dashboard: () => import("./pages/dashboard"),
  runs: () => import("./pages/flow-runs"),
  run: () => import("./pages/flow-run"),
  flows: () => import("./pages/flows"),
  flow: () => import("./pages/flow"),
  deployments: () => import("./pages/deployments"),
  deployment: () => import("./pages/deployment"),
  workPools: () => import("./pages/work-pools"),
  workPool: () => import("./pages/work-pool"),
  concurrency: () => import("./pages/concurrency"),
  variables: () => import("./pages/variables"),
  blocks: () => import("./pages/blocks"),
  artifacts: () => import("./pages/artifacts"),
  events: () => import("./pages/events"),
  automations: () => import("./pages/automations"),
};
const pages = {
  dashboard: lazyPage(loaders.dashboard),
  runs: lazyPage(loaders.runs),
  run: lazyPage(loaders.run),
  flows: lazyPage(loaders.flows),
  flow: lazyPage(loaders.flow),
  deployments: lazyPage(loaders.deployments),
  deployment: lazyPage(loaders.deployment),
  workPools: lazyPage(loaders.workPools),
  workPool: lazyPage(loaders.workPool),
  concurrency: lazyPage(loaders.concurrency),
  variables: lazyPage(loaders.variables),
  blocks: lazyPage(loaders.blocks),
  artifacts: lazyPage(loaders.artifacts),
  events: lazyPage(loaders.events),
  automations: lazyPage(loaders.automations),
};

const PAGE_BY_FILE: Record<string, keyof typeof loaders> = {
  dashboard: "dashboard",
  "flow-runs": "runs",
  "flow-run": "run",
  flows: "flows",
  flow: "flow",
  deployments: "deployments",
  deployment: "deployment",
  "work-pools": "workPools",
  "work-pool": "workPool",
  concurrency: "concurrency",
  variables: "variables",
  blocks: "blocks",
  artifacts: "artifacts",
  events: "events",
  automations: "automations",
};

/**
 * Loads the chunk of the page at `path` (at boot, alongside /ui-settings, instead of after
 * it). Once loaded, the page renders at once, without a Suspense fallback (which React holds
 * for at least 300 ms once shown).
 */
export function preloadPage(path: string): Promise<void> {
  const file = pageFileFor(path);
  const page = file ? PAGE_BY_FILE[file] : undefined;
  return page ? pages[page].preload().catch(() => undefined) : Promise.resolve();
}

/**
 * React.lazy, except that a page whose chunk has loaded renders synchronously (React.lazy
 * suspends once even then), and its chunk can be loaded ahead of rendering.
 */
function lazyPage<P extends object>(load: () => Promise<{ default: ComponentType<P> }>) {
  let loaded: ComponentType<P> | undefined;
  let pending: Promise<void> | undefined;
  const preload = () =>
    (pending ??= load().then(
      (module) => {
        loaded = module.default;
      },
      (error: unknown) => {
        pending = undefined;
        throw error;
      },
    ));
  function Page(props: P) {
    if (loaded) return createElement(loaded, props);
    use(preload());
    return createElement(loaded!, props);
  }
  return Object.assign(Page, { preload });
}

const routed = {
  run: page(pages.run),
  flow: page(pages.flow),
  deployment: page(pages.deployment),
  workPool: page(pages.workPool),
};

const NAV: Array<[string, string, string]> = [
  ["/", "Dashboard", "d"],
  ["/runs", "Runs", "r"],
  ["/flows", "Flows", "f"],
  ["/deployments", "Deployments", "p"],
  ["/work-pools", "Work pools", "w"],
  ["/concurrency-limits", "Concurrency", "c"],
  ["/variables", "Variables", "v"],
  ["/blocks", "Blocks", "b"],
  ["/artifacts", "Artifacts", "a"],
  ["/events", "Events", "e"],
  ["/automations", "Automations", "u"],
];

type Theme = "light" | "dark" | "system";

function useTheme(): [Theme, (theme: Theme) => void] {
  const [theme, setTheme] = useState<Theme>(() => (localStorage.getItem("baton-theme") as Theme | null) ?? "system");
  useEffect(() => {
    if (theme === "system") {
      delete document.documentElement.dataset.theme;
      localStorage.removeItem("baton-theme");
    } else {
      document.documentElement.dataset.theme = theme;
      localStorage.setItem("baton-theme", theme);
    }
  }, [theme]);
  return [theme, setTheme];
}

/** `g` then a letter goes to a page (`g r`: runs), as in many keyboard-driven apps; `?` lists them. */
function useKeyboardNavigation(navigate: (to: string) => void, toggleHelp: () => void) {
  useEffect(() => {
    let pendingG = 0;
    const onKey = (event: KeyboardEvent) => {
      const target = event.target as HTMLElement | null;
      if (event.metaKey || event.ctrlKey || event.altKey) return;
      if (target && (target.isContentEditable || ["INPUT", "TEXTAREA", "SELECT"].includes(target.tagName))) return;
      if (event.key === "?") return toggleHelp();
      if (event.key === "/") {
        const search = document.querySelector<HTMLInputElement>("[data-search]");
        if (search) {
          event.preventDefault();
          search.focus();
        }
        return;
      }
      if (event.key === "g") {
        pendingG = Date.now();
        return;
      }
      if (Date.now() - pendingG < 1500) {
        const item = NAV.find(([, , key]) => key === event.key);
        pendingG = 0;
        if (item) navigate(item[0]);
      }
    };
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [navigate, toggleHelp]);
}

export function App({ settings }: { settings: UiSettings }) {
  const [location, navigate] = useLocation();
  const [theme, setTheme] = useTheme();
  const [menuOpen, setMenuOpen] = useState(false);
  const [help, setHelp] = useState(false);
  const version = useGet<string>("/version", { staleTime: Infinity });
  useKeyboardNavigation(navigate, () => setHelp((h) => !h));
  useEffect(() => setMenuOpen(false), [location]);

  return (
    <div className="shell" data-api={settings.api_url}>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <aside className={menuOpen ? "sidebar open" : "sidebar"}>
        <div className="brand">
          <Link href="/">Baton</Link>
          <button className="menu-button" aria-label="Menu" aria-expanded={menuOpen} onClick={() => setMenuOpen((o) => !o)}>
            ☰
          </button>
        </div>
        <nav aria-label="Main">
          {NAV.map(([href, label]) => {
            const active = href === "/" ? location === "/" : location.startsWith(href);
            return (
              <Link key={href} href={href} className={active ? "nav-link active" : "nav-link"} aria-current={active ? "page" : undefined}>
                {label}
              </Link>
            );
          })}
        </nav>
        <div className="sidebar-foot">
          <label>
            Theme{" "}
            <select value={theme} onChange={(event) => setTheme(event.target.value as Theme)} aria-label="Theme">
              <option value="system">System</option>
              <option value="light">Light</option>
              <option value="dark">Dark</option>
            </select>
          </label>
          <span className="muted small">API {version.data ?? ""}</span>
        </div>
      </aside>
      <main id="main" tabIndex={-1}>
        <Suspense fallback={<p className="muted">Loading…</p>}>
          <Switch>
            <Route path="/" component={pages.dashboard} />
            <Route path="/runs" component={pages.runs} />
            <Route path="/runs/:id" component={routed.run} />
            <Route path="/flows" component={pages.flows} />
            <Route path="/flows/:id" component={routed.flow} />
            <Route path="/deployments" component={pages.deployments} />
            <Route path="/deployments/:id" component={routed.deployment} />
            <Route path="/work-pools" component={pages.workPools} />
            <Route path="/work-pools/:name" component={routed.workPool} />
            <Route path="/concurrency-limits" component={pages.concurrency} />
            <Route path="/variables" component={pages.variables} />
            <Route path="/blocks" component={pages.blocks} />
            <Route path="/artifacts" component={pages.artifacts} />
            <Route path="/events" component={pages.events} />
            <Route path="/automations" component={pages.automations} />
            <Route>
              <h1>Not found</h1>
              <p>
                No page at <code>{location}</code>. <Link href="/">Back to the dashboard</Link>.
              </p>
            </Route>
          </Switch>
        </Suspense>
      </main>
      {help && (
        <div className="dialog-backdrop" onClick={() => setHelp(false)}>
          <div className="dialog" role="dialog" aria-label="Keyboard shortcuts" onClick={(event) => event.stopPropagation()}>
            <h2>Keyboard shortcuts</h2>
            <ul className="plain">
              {NAV.map(([href, label, key]) => (
                <li key={href}>
                  <kbd>g</kbd> <kbd>{key}</kbd> {label}
                </li>
              ))}
              <li>
                <kbd>/</kbd> search or filter on this page
              </li>
              <li>
                <kbd>?</kbd> this list
              </li>
            </ul>
            <button onClick={() => setHelp(false)} autoFocus>
              Close
            </button>
          </div>
        </div>
      )}
    </div>
  );
}

/** Route params handed to a page as props. */
function page<P extends Record<string, string>>(Component: ComponentType<P>) {
  return function RoutePage({ params }: { params: P }) {
    return <Component {...params} />;
  };
}
