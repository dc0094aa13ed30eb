import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError, BatonClient, ServerUnreachableError } from "@baton/sdk";

/** An HTTP server answering each request with the next of `statuses` (the last one repeats). */
async function serverAnswering(statuses: number[]): Promise<{ url: string; hits: string[]; server: Server }> {
  const hits: string[] = [];
  const server = createServer((request, response) => {
    const status = statuses[Math.min(hits.length, statuses.length - 1)]!;
    hits.push(request.method ?? "?");
    response.writeHead(status, { "content-type": "application/json" });
    response.end(status === 200 ? JSON.stringify({ ok: true }) : JSON.stringify({ detail: `status ${status}` }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, hits, server };
}

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

describe("BatonClient", () => {
  it("sends a read again after 503 and 502 answers, and returns the answer that follows", async () => {
    const { url, hits, server } = await serverAnswering([503, 502, 200]);
    servers.push(server);
    const body = await new BatonClient({ apiUrl: url }).request<{ ok: boolean }>("GET", "/flows/x");
    expect(body).toEqual({ ok: true });
    expect(hits).toEqual(["GET", "GET", "GET"]);
  });

  it("does not send a write again: a 503 to a POST is an ApiError at once", async () => {
    const { url, hits, server } = await serverAnswering([503, 200]);
    servers.push(server);
    const error = await new BatonClient({ apiUrl: url }).request("POST", "/flows/", { name: "f" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).status).toBe(503);
    expect(hits).toEqual(["POST"]);
  });

  it("gives up on a read after its retries, with the server's last answer", async () => {
    const { url, hits, server } = await serverAnswering([504]);
    servers.push(server);
    const error = await new BatonClient({ apiUrl: url }).request("GET", "/flows/x").catch((e: unknown) => e);
    expect((error as ApiError).status).toBe(504);
    expect(hits).toHaveLength(4);
  });

  it("sends a read again when its answer does not come in time", async () => {
    let requests = 0;
    // The first request is never answered; the second is.
    const server = createServer((_request, response) => {
      requests++;
      if (requests === 1) return;
      response.writeHead(200, { "content-type": "application/json" });
      response.end("true");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    servers.push(server);
    const client = new BatonClient({ apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`, timeoutMs: 200 });
    await expect(client.request<boolean>("GET", "/health")).resolves.toBe(true);
    expect(requests).toBe(2);
    server.closeAllConnections();
  });

  it("fails at once, naming the URL, when nothing listens", async () => {
    const error = await new BatonClient({ apiUrl: "http://127.0.0.1:9/api" }).request("GET", "/health").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ServerUnreachableError);
    expect(String(error)).toContain("http://127.0.0.1:9/api (ECONNREFUSED)");
  });

  it("while a slot request is in flight, hands back its answer before the other answers read with it, and every answer in order", async () => {
    // Holds every request until three have come, then answers them all in one go: the client reads the three answers together.
    const waiting: Array<{ path: string; answer: () => void }> = [];
    const server = createServer((request, response) => {
      waiting.push({
        path: request.url ?? "",
        answer: () => {
          response.writeHead(200, { "content-type": "application/json" });
          response.end(JSON.stringify({ path: request.url }));
        },
      });
      if (waiting.length === 3) for (const w of waiting.splice(0)) w.answer();
    });
    servers.push(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const client = new BatonClient({ apiUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}/api` });
    const order: string[] = [];
    const send = async (method: string, path: string) => {
      await client.request(method, path, method === "POST" ? {} : undefined);
      order.push(path);
    };
    const first = send("GET", "/flow_runs/a");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const second = send("POST", "/flow_runs/b/set_state");
    await new Promise((resolve) => setTimeout(resolve, 20));
    const slot = send("POST", "/v2/concurrency_limits/increment-with-lease");
    await Promise.all([first, second, slot]);
    expect(order).toEqual(["/v2/concurrency_limits/increment-with-lease", "/flow_runs/a", "/flow_runs/b/set_state"]);
  });
});
