import http from "node:http";
import type { HttpImpl } from "./args.js";

export interface JsonResponse {
  status: number;
  /** Parsed JSON body, or undefined for an empty one. */
  body: unknown;
  /** Raw text, kept to print samples of error answers. */
  text: string;
}

/** The body of a 2xx answer; anything else throws with the status and the start of the text. */
export async function ok(response: Promise<JsonResponse>): Promise<unknown> {
  const r = await response;
  if (r.status < 200 || r.status > 299) throw new Error(`HTTP ${r.status}: ${r.text.slice(0, 300)}`);
  return r.body;
}

/** POSTs JSON below the server's `/api` URL over keep-alive connections. */
export interface JsonClient {
  post(path: string, body: unknown): Promise<JsonResponse>;
  close(): void;
}

/**
 * The load generator shares the machine's two cores with the server, so its per-request cost
 * matters: `node:http` with a keep-alive agent costs noticeably less CPU per request than the
 * built-in `fetch` (undici behind WHATWG streams); `--http fetch` is there to compare.
 */
export function createClient(apiUrl: string, connections: number, impl: HttpImpl): JsonClient {
  return impl === "fetch" ? fetchClient(apiUrl) : nodeHttpClient(apiUrl, connections);
}

function nodeHttpClient(apiUrl: string, connections: number): JsonClient {
  const url = new URL(apiUrl);
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections, maxFreeSockets: connections });
  const prefix = url.pathname.replace(/\/$/, "");
  return {
    post: (path, body) =>
      new Promise<JsonResponse>((resolve, reject) => {
        const payload = JSON.stringify(body);
        const request = http.request(
          {
            agent,
            host: url.hostname,
            port: url.port,
            method: "POST",
            path: prefix + path,
            headers: { "content-type": "application/json", "content-length": Buffer.byteLength(payload) },
          },
          (response) => {
            const chunks: Buffer[] = [];
            response.on("data", (chunk: Buffer) => chunks.push(chunk));
            response.on("error", reject);
            response.on("end", () => {
              const text = chunks.length === 1 ? chunks[0]!.toString("utf8") : Buffer.concat(chunks).toString("utf8");
              try {
                resolve({ status: response.statusCode ?? 0, body: text === "" ? undefined : JSON.parse(text), text });
              } catch {
                resolve({ status: response.statusCode ?? 0, body: undefined, text });
              }
            });
          },
        );
        request.on("error", reject);
        request.end(payload);
      }),
    close: () => agent.destroy(),
  };
}

function fetchClient(apiUrl: string): JsonClient {
  const base = apiUrl.replace(/\/$/, "");
  return {
    post: async (path, body) => {
      const response = await fetch(base + path, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      const text = await response.text();
      let parsed: unknown;
      try {
        parsed = text === "" ? undefined : JSON.parse(text);
      } catch {
        parsed = undefined;
      }
      return { status: response.status, body: parsed, text };
    },
    close: () => undefined,
  };
}
