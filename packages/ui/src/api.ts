/**
 * The UI's only way to the server: JSON over Baton's REST API (Prefect's API v3). The API's
 * URL comes from `GET /ui-settings`, as Prefect's UI finds it.
 */

export interface UiSettings {
  api_url: string;
  csrf_enabled: boolean;
  auth: string | null;
  flags: string[];
}

/** An answer of 4xx/5xx, with the server's own message (`detail` or `exception_message`). */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    message: string,
    readonly status: number,
    readonly path: string,
  ) {
    super(message);
  }
}

let apiUrl = "/api";

/**
 * The settings index.html already asked for (its inline script starts the request before this
 * bundle has loaded, which saves a round trip on the first screen), or asked for now.
 */
export async function loadUiSettings(): Promise<UiSettings> {
  const early = (window as { __batonUiSettings?: Promise<UiSettings> }).__batonUiSettings;
  const settings = early ? await early : await fetchUiSettings();
  apiUrl = settings.api_url.replace(/\/+$/, "");
  return settings;
}

async function fetchUiSettings(): Promise<UiSettings> {
  const response = await fetch("/ui-settings");
  if (!response.ok) throw new ApiError(`GET /ui-settings answered ${response.status}`, response.status, "/ui-settings");
  return (await response.json()) as UiSettings;
}

export function apiBase(): string {
  return apiUrl;
}

export async function api<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: body === undefined ? undefined : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
  });
  const text = await response.text();
  let parsed: unknown = undefined;
  if (text) {
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = text;
    }
  }
  if (!response.ok) throw new ApiError(errorMessage(parsed) ?? `${method} ${path} answered ${response.status}`, response.status, path);
  return parsed as T;
}

function errorMessage(body: unknown): string | undefined {
  if (typeof body === "string") return body.slice(0, 300);
  if (body && typeof body === "object") {
    const record = body as Record<string, unknown>;
    if (typeof record.exception_message === "string") return record.exception_message;
    if (typeof record.detail === "string") return record.detail;
  }
  return undefined;
}

export const get = <T>(path: string, signal?: AbortSignal) => api<T>("GET", path, undefined, signal);
export const post = <T>(path: string, body?: unknown, signal?: AbortSignal) => api<T>("POST", path, body ?? {}, signal);
