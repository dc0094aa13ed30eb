import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import { ApiError, loadUiSettings } from "./api";
import { App } from "./app";
import "./styles.css";

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
loadUiSettings()
  .then((settings) =>
    root.render(
      <StrictMode>
        <QueryClientProvider client={queryClient}>
          <App settings={settings} />
        </QueryClientProvider>
      </StrictMode>,
    ),
  )
  .catch((error: unknown) => {
    root.render(<p className="error boot-error">Could not reach the Baton server: {String(error)}</p>);
  });
