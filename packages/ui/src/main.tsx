import { StrictMode } from "react";
import { flushSync } from "react-dom";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { ApiError, loadUiSettings, post } from "./api";
import { RUNS_PAGE_PATH, runsPageBody } from "./pages/flow-runs-query";
import { App, preloadPage } from "./app";
import "./styles.css";

// Marks the benchmark (bench/ui-runs-page.ts) reads to split the first screen's time.
performance.mark("baton:main");

const queryClient = new QueryClient({
  defaultOptions: {
    queries: {
      staleTime: 2_000,
      // A 4xx will not change by asking again; a dropped connection might.
      retry: (count, error) => !(error instanceof ApiError && error.status < 500) && count < 2,
      refetchOnWindowFocus: true,
    },
  },
});

const root = createRoot(document.getElementById("root")!);
const firstPage = preloadPage(window.location.pathname);
loadUiSettings()
  .then((settings) => {
    // The runs page's first request goes out now, while the page's chunk loads, and the first
    // render waits for it a little: rows in the first paint rather than "Loading…" and a second render.
    let firstData: Promise<unknown> = Promise.resolve();
    if (/^\/runs\/?$/.test(window.location.pathname)) {
      const body = runsPageBody(new URLSearchParams(window.location.search));
      const prefetch = queryClient.prefetchQuery({ queryKey: [RUNS_PAGE_PATH, body], queryFn: ({ signal }) => post(RUNS_PAGE_PATH, body, signal) });
      firstData = Promise.race([prefetch, new Promise((resolve) => setTimeout(resolve, 400))]);
    }
    return Promise.all([firstPage, firstData]).then(() => settings);
  })
  .then((settings) => {
    performance.mark("baton:render");
    // The first screen in one synchronous pass: no time slicing, whose yields only delay it.
    flushSync(() => root.render(
      <StrictMode>
        <QueryClientProvider client={queryClient}>
          <App settings={settings} />
        </QueryClientProvider>
      </StrictMode>,
    ));
  })
  .catch((error: unknown) => {
    root.render(<p className="error boot-error">Could not reach the Baton server: {String(error)}</p>);
  });
