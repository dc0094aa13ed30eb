import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PREFECT_SERVER_VERSION } from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

interface CsrfToken {
  id: string;
  created: string;
  updated: string;
  token: string;
  client: string;
  expiration: string;
}

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let server: TestServer;
    beforeAll(async () => {
      server = await startTestServer(dialect);
    });
    afterAll(() => server.close());

    it("GET /health answers true", async () => {
      const { status, body } = await server.call("GET", "/health");
      expect(status).toBe(200);
      expect(body).toBe(true);
    });

    /** Reads a route raw, so a body that is not JSON fails an assertion rather than the parser. */
    async function raw(path: string): Promise<{ status: number; type: string; text: string }> {
      const response = await fetch(`${server.apiUrl}${path}`);
      return { status: response.status, type: response.headers.get("content-type") ?? "", text: await response.text() };
    }

    it("GET /version answers the Prefect server version, JSON-encoded, as the Python client parses it", async () => {
      const { status, type, text } = await raw("/version");
      expect(status).toBe(200);
      expect(type).toMatch(/^application\/json/);
      expect(text).toBe(JSON.stringify(PREFECT_SERVER_VERSION));
      expect(PREFECT_SERVER_VERSION).toMatch(/^3\.\d+\.\d+/);
    });

    it("GET /admin/version answers the same version as JSON", async () => {
      const { status, type, text } = await raw("/admin/version");
      expect(status).toBe(200);
      expect(type).toMatch(/^application\/json/);
      expect(text).toBe(JSON.stringify(PREFECT_SERVER_VERSION));
    });

    it("GET /hello says hello as a JSON string", async () => {
      const { status, type, text } = await raw("/hello");
      expect(status).toBe(200);
      expect(type).toMatch(/^application\/json/);
      const body: unknown = JSON.parse(text);
      expect(typeof body).toBe("string");
      expect((body as string).length).toBeGreaterThan(0);
    });

    it("GET /ready is OK while the database answers", async () => {
      const { status, body } = await server.call<{ message: string }>("GET", "/ready");
      expect(status).toBe(200);
      expect(body).toEqual({ message: "OK" });
    });

    it("routes with and without a trailing slash alike", async () => {
      expect((await server.call("GET", "/health/")).status).toBe(200);
    });

    it("GET /csrf-token?client=x issues a token for that client", async () => {
      const before = Date.now();
      const { status, body } = await server.call<CsrfToken>("GET", "/csrf-token?client=x");
      expect(status).toBe(200);
      expect(body.client).toBe("x");
      expect(body.token).toMatch(/^[0-9a-f]{16,}$/);
      expect(body.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(Date.parse(body.created)).toBeGreaterThanOrEqual(before - 1000);
      expect(Date.parse(body.expiration)).toBeGreaterThan(Date.parse(body.created));
      const again = await server.call<CsrfToken>("GET", "/csrf-token?client=x");
      expect(again.body.token).not.toBe(body.token);
    });

    it("GET /csrf-token without a client is a 422 naming the parameter", async () => {
      const { status, body } = await server.call<{ exception_message: string }>("GET", "/csrf-token");
      expect(status).toBe(422);
      expect(body.exception_message).toContain("client");
    });

    it("serves its own OpenAPI document listing the routes", async () => {
      const { status, body } = await server.call<{ openapi: string; paths: Record<string, Record<string, unknown>> }>("GET", "/openapi.json");
      expect(status).toBe(200);
      expect(body.openapi).toMatch(/^3\./);
      expect(Object.keys(body.paths["/flow_runs/{id}/set_state"] ?? {})).toContain("post");
      expect(Object.keys(body.paths["/flows/{id}"] ?? {}).sort()).toEqual(["delete", "get", "patch"]);
    });
  });
}
