/**
 * What the notification and webhook actions send, per block type: Prefect's `Webhook` block
 * (`webhook`: method, url, headers) for call-webhook, and the notification blocks
 * `slack-webhook` (url) and `custom-webhook` (Prefect's CustomWebhookNotificationBlock: url,
 * method, params, json_data, form_data, headers, cookies, timeout, secrets) for
 * send-notification.
 */

/** Outbound calls give up after this long unless the block says otherwise. */
const DEFAULT_TIMEOUT_SECONDS = 10;

export class ActionFailed extends Error {
  override name = "ActionFailed";
}

export interface HttpCall {
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  timeoutSeconds: number;
}

export async function send(call: HttpCall): Promise<{ status: number }> {
  let response: Response;
  try {
    response = await fetch(call.url, {
      method: call.method,
      headers: call.headers,
      ...(call.body !== undefined && call.method !== "GET" && call.method !== "HEAD" ? { body: call.body } : {}),
      signal: AbortSignal.timeout(call.timeoutSeconds * 1000),
    });
  } catch (error) {
    throw new ActionFailed(`${call.method} ${redactUrl(call.url)} failed: ${(error as Error).message}`);
  }
  // The body is not needed; it is read so that the connection can be reused.
  await response.arrayBuffer().catch(() => undefined);
  if (response.status >= 400) throw new ActionFailed(`${call.method} ${redactUrl(call.url)} answered HTTP ${response.status}`);
  return { status: response.status };
}

/** A URL as it may appear in an event: its query and credentials can be secrets. */
function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.host}${parsed.pathname}`;
  } catch {
    return "(invalid URL)";
  }
}

function str(value: unknown, field: string): string {
  if (typeof value !== "string" || value === "") throw new ActionFailed(`the block has no ${field}`);
  return value;
}

function stringRecord(value: unknown): Record<string, string> {
  if (!value || typeof value !== "object") return {};
  return Object.fromEntries(Object.entries(value as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
}

/** The HTTP call of a `webhook` block with this payload (JSON if it parses as JSON, else text). */
export function webhookCall(blockType: string, data: Record<string, unknown>, payload: string): HttpCall {
  if (blockType !== "webhook") throw new ActionFailed(`block type '${blockType}' is not a webhook block; call-webhook needs a 'webhook' block`);
  const headers = stringRecord(data.headers);
  let isJson = false;
  if (payload.trim() !== "") {
    try {
      JSON.parse(payload);
      isJson = true;
    } catch {
      isJson = false;
    }
  }
  if (!Object.keys(headers).some((h) => h.toLowerCase() === "content-type")) headers["content-type"] = isJson ? "application/json" : "text/plain; charset=utf-8";
  return {
    method: typeof data.method === "string" ? data.method.toUpperCase() : "POST",
    url: str(data.url, "url"),
    headers,
    ...(payload === "" ? {} : { body: payload }),
    timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
  };
}

/** Substitutes `{{subject}}`, `{{body}}`, `{{name}}` and the block's secrets, as Prefect's custom webhook block does. */
function substitute(value: unknown, values: Record<string, string>): unknown {
  if (typeof value === "string") return value.replace(/\{\{\s*([\w.-]+)\s*\}\}/g, (whole, key: string) => values[key] ?? whole);
  if (Array.isArray(value)) return value.map((v) => substitute(v, values));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substitute(v, values)]));
  return value;
}

/** The HTTP call that delivers a notification through a notification block. */
export function notificationCall(blockType: string, data: Record<string, unknown>, subject: string, body: string): HttpCall {
  switch (blockType) {
    case "slack-webhook":
      return {
        method: "POST",
        url: str(data.url, "url"),
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: subject ? `*${subject}*\n${body}` : body }),
        timeoutSeconds: DEFAULT_TIMEOUT_SECONDS,
      };
    case "custom-webhook": {
      const values = { ...stringRecord(data.secrets), subject, body, name: typeof data.name === "string" ? data.name : "Prefect Notifications" };
      const url = new URL(String(substitute(str(data.url, "url"), values)));
      for (const [k, v] of Object.entries(stringRecord(substitute(data.params, values)))) url.searchParams.set(k, v);
      const headers = stringRecord(substitute(data.headers, values));
      const cookies = stringRecord(substitute(data.cookies, values));
      if (Object.keys(cookies).length > 0) headers.cookie = Object.entries(cookies).map(([k, v]) => `${k}=${v}`).join("; ");
      let payload: string | undefined;
      if (data.json_data != null) {
        payload = JSON.stringify(substitute(data.json_data, values));
        headers["content-type"] ??= "application/json";
      } else if (data.form_data != null) {
        payload = new URLSearchParams(stringRecord(substitute(data.form_data, values))).toString();
        headers["content-type"] ??= "application/x-www-form-urlencoded";
      }
      return {
        method: typeof data.method === "string" ? data.method.toUpperCase() : "POST",
        url: url.toString(),
        headers,
        ...(payload === undefined ? {} : { body: payload }),
        timeoutSeconds: typeof data.timeout === "number" && data.timeout > 0 ? data.timeout : DEFAULT_TIMEOUT_SECONDS,
      };
    }
    case "webhook":
      return webhookCall(blockType, data, JSON.stringify({ subject, body }));
    default:
      throw new ActionFailed(`block type '${blockType}' cannot send notifications; use a 'slack-webhook', 'custom-webhook' or 'webhook' block`);
  }
}
