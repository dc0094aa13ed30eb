import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/**
 * A table of requests a client should not send. Each row names the status it must get, and
 * for a 422 the field path the message must name. No row may produce a 5xx, and the server
 * must still be healthy after the whole table.
 */

interface Fixture {
  flowId: string;
  flowRunId: string;
  taskRunId: string;
  deploymentId: string;
  /** A flow run created with an explicit id, to collide with. */
  takenRunId: string;
}

type FromFixture<T> = T | ((fx: Fixture) => T);
type Json = null | boolean | number | string | readonly unknown[] | { readonly [key: string]: unknown };

interface Row {
  name: string;
  method: "GET" | "POST" | "PATCH" | "DELETE" | "PUT";
  path: FromFixture<string>;
  /** Sent JSON-encoded as application/json. */
  json?: FromFixture<Json>;
  /** Sent exactly as given (use with `contentType`). */
  raw?: (fx: Fixture) => string;
  contentType?: string;
  /** The status the row must get; a list when more than one answer is acceptable. */
  status: number | readonly number[];
  /** For a 422: text the `exception_message` must contain (the offending field). */
  field?: string;
}

const uuid = () => crypto.randomUUID();
const NOW = "2030-01-01T00:00:00Z";
const log = (extra: Record<string, unknown> = {}) => ({ name: "l", level: 20, message: "m", timestamp: NOW, ...extra });
const nested = (depth: number, leaf: string) => '{"a":'.repeat(depth) + leaf + "}".repeat(depth);
const ELEVEN_MIB = 11 * 1024 * 1024;

const ROWS: Row[] = [
  // Malformed JSON: 400.
  { name: "truncated JSON", method: "POST", path: "/flows/", raw: () => '{"name": ', contentType: "application/json", status: 400 },
  { name: "single-quoted JSON", method: "POST", path: "/flow_runs/filter", raw: () => "{'limit': 1}", contentType: "application/json", status: 400 },
  { name: "unterminated array", method: "POST", path: "/logs/", raw: () => "[1, 2,", contentType: "application/json", status: 400 },
  { name: "bare word", method: "POST", path: "/flows/", raw: () => "undefined", contentType: "application/json", status: 400 },
  { name: "trailing garbage", method: "POST", path: "/flows/count", raw: () => "{} {}", contentType: "application/json", status: 400 },
  { name: "malformed JSON with a charset", method: "POST", path: "/flows/", raw: () => "{name: x}", contentType: "application/json; charset=utf-8", status: 400 },

  // Wrong types.
  { name: "number for a name", method: "POST", path: "/flows/", json: { name: 123 }, status: 422, field: "name" },
  { name: "string for tags", method: "POST", path: "/flows/", json: { name: "x", tags: "a" }, status: 422, field: "tags" },
  { name: "number inside tags", method: "POST", path: "/flows/", json: { name: "x", tags: [1] }, status: 422, field: "tags" },
  { name: "negative max_retries", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, empirical_policy: { max_retries: -1 } }), status: 422, field: "empirical_policy.max_retries" },
  { name: "string for a log level", method: "POST", path: "/logs/", json: [log({ level: "INFO" })], status: 422, field: "level" },
  { name: "log level out of range", method: "POST", path: "/logs/", json: [log(), log({ level: 101 })], status: 422, field: "1.level" },
  { name: "string for limit", method: "POST", path: "/flow_runs/filter", json: { limit: "10" }, status: 422, field: "limit" },
  { name: "fractional limit", method: "POST", path: "/flows/filter", json: { limit: 10.5 }, status: 422, field: "limit" },
  { name: "string for force", method: "POST", path: (fx) => `/flow_runs/${fx.flowRunId}/set_state`, json: { state: { type: "RUNNING" }, force: "yes" }, status: 422, field: "force" },
  { name: "object label value", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, labels: { a: { b: 1 } } }), status: 422, field: "labels.a" },
  { name: "boolean for paused filter value", method: "POST", path: "/deployments/filter", json: { deployments: { paused: { eq_: "yes" } } }, status: 422, field: "paused.eq_" },
  { name: "zero history interval", method: "POST", path: "/flow_runs/history", json: { history_start: NOW, history_end: "2030-01-02T00:00:00Z", history_interval_seconds: 0 }, status: 422, field: "history_interval_seconds" },
  { name: "a name with a slash", method: "POST", path: "/flows/", json: { name: "a/b" }, status: 422, field: "name" },
  { name: "an empty name", method: "POST", path: "/flows/", json: { name: "" }, status: 422, field: "name" },

  // Missing required fields.
  { name: "flow without a name", method: "POST", path: "/flows/", json: {}, status: 422, field: "name" },
  { name: "flow run without flow_id", method: "POST", path: "/flow_runs/", json: {}, status: 422, field: "flow_id" },
  { name: "task run without dynamic_key", method: "POST", path: "/task_runs/", json: { task_key: "x" }, status: 422, field: "dynamic_key" },
  { name: "deployment without flow_id", method: "POST", path: "/deployments/", json: { name: "d" }, status: 422, field: "flow_id" },
  { name: "set_state without a state", method: "POST", path: (fx) => `/flow_runs/${fx.flowRunId}/set_state`, json: {}, status: 422, field: "state" },
  { name: "state without a type", method: "POST", path: (fx) => `/task_runs/${fx.taskRunId}/set_state`, json: { state: { name: "x" } }, status: 422, field: "state.type" },
  { name: "log without a name", method: "POST", path: "/logs/", json: [{ level: 20, message: "m", timestamp: NOW }], status: 422, field: "name" },
  { name: "history without a start", method: "POST", path: "/flow_runs/history", json: { history_end: NOW, history_interval_seconds: 60 }, status: 422, field: "history_start" },
  { name: "csrf token without a client", method: "GET", path: "/csrf-token", status: 422, field: "client" },
  { name: "states without a run id", method: "GET", path: "/task_run_states/", status: 422, field: "task_run_id" },
  {
    name: "deployment run missing a required parameter",
    method: "POST",
    path: (fx) => `/deployments/${fx.deploymentId}/create_flow_run`,
    json: { parameters: {} },
    status: 422,
    field: "needed",
  },

  // Unknown fields.
  { name: "unknown field on a flow", method: "POST", path: "/flows/", json: { name: "x", color: "red" }, status: 422, field: "color" },
  { name: "unknown filter criterion", method: "POST", path: "/flow_runs/filter", json: { flow_runs: { nme: { any_: ["x"] } } }, status: 422, field: "nme" },
  { name: "unknown operator key", method: "POST", path: "/flow_runs/filter", json: { flow_runs: { state: { type: { any_: ["RUNNING"], eq_: "RUNNING" } } } }, status: 422, field: "eq_" },
  { name: "renaming a flow is not a field of the update", method: "PATCH", path: (fx) => `/flows/${fx.flowId}`, json: { name: "renamed" }, status: 422, field: "name" },
  { name: "unknown top-level filter key", method: "POST", path: "/logs/filter", json: { logz: {} }, status: 422, field: "logz" },
  { name: "__proto__ key", method: "POST", path: "/flows/", raw: () => '{"name":"p","__proto__":{"polluted":true}}', contentType: "application/json", status: 422, field: "__proto__" },

  // Bad enum values.
  { name: "unknown state type", method: "POST", path: (fx) => `/flow_runs/${fx.flowRunId}/set_state`, json: { state: { type: "DONE" } }, status: 422, field: "state.type" },
  { name: "lower-case state type in a filter", method: "POST", path: "/flow_runs/filter", json: { flow_runs: { state: { type: { any_: ["running"] } } } }, status: 422, field: "state.type.any_" },
  { name: "unknown flow run sort", method: "POST", path: "/flow_runs/filter", json: { sort: "NAME" }, status: 422, field: "sort" },
  { name: "unknown log sort", method: "POST", path: "/logs/filter", json: { sort: "LEVEL_DESC" }, status: 422, field: "sort" },
  { name: "unknown operator", method: "POST", path: "/flows/filter", json: { flows: { operator: "xor_" } }, status: 422, field: "operator" },
  { name: "unknown collision strategy", method: "POST", path: "/deployments/", json: (fx) => ({ name: "d", flow_id: fx.flowId, concurrency_options: { collision_strategy: "DROP" } }), status: 422, field: "collision_strategy" },

  // Bad UUIDs, in the path and in the body.
  { name: "non-UUID flow id in the path", method: "GET", path: "/flows/not-a-uuid", status: 422, field: "id" },
  { name: "number as a flow run id", method: "GET", path: "/flow_runs/123", status: 422, field: "id" },
  { name: "non-UUID task run id to delete", method: "DELETE", path: "/task_runs/zzz", status: 422, field: "id" },
  { name: "non-UUID id to patch", method: "PATCH", path: "/deployments/1234-5678", json: { paused: true }, status: 422, field: "id" },
  { name: "non-UUID deployment for create_flow_run", method: "POST", path: "/deployments/x/create_flow_run", json: {}, status: 422, field: "id" },
  { name: "non-UUID flow_id in the body", method: "POST", path: "/flow_runs/", json: { flow_id: "nope" }, status: 422, field: "flow_id" },
  { name: "non-UUID in id.any_", method: "POST", path: "/flow_runs/filter", json: { flow_runs: { id: { any_: ["x"] } } }, status: 422, field: "id.any_" },
  { name: "non-UUID run id in the query", method: "GET", path: "/flow_run_states/?flow_run_id=bad", status: 422, field: "flow_run_id" },
  { name: "UUID with a non-hex digit", method: "GET", path: "/flows/00000000-0000-0000-0000-00000000000g", status: 422, field: "id" },

  // Bad date-times.
  { name: "words for a date-time", method: "POST", path: "/flow_runs/filter", json: { flow_runs: { start_time: { before_: "yesterday" } } }, status: 422, field: "start_time.before_" },
  { name: "month 13", method: "POST", path: "/logs/", json: [log({ timestamp: "2024-13-01T00:00:00Z" })], status: 422, field: "timestamp" },
  { name: "February 30th", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, state: { type: "SCHEDULED", state_details: { scheduled_time: "2030-02-30T00:00:00Z" } } }), status: 422, field: "scheduled_time" },
  { name: "offset out of range", method: "POST", path: "/flow_runs/filter", json: { flow_runs: { expected_start_time: { after_: "2030-01-01T00:00:00+99:99" } } }, status: 422, field: "expected_start_time.after_" },
  { name: "number for a date-time", method: "POST", path: "/flow_runs/history", json: { history_start: 1700000000, history_end: NOW, history_interval_seconds: 60 }, status: 422, field: "history_start" },
  { name: "year zero", method: "POST", path: "/flow_runs/filter", json: { flow_runs: { start_time: { before_: "0000-01-01T00:00:00Z" } } }, status: [200, 422], field: "before_" },

  // Limits and offsets.
  { name: "negative limit", method: "POST", path: "/flows/filter", json: { limit: -1 }, status: 422, field: "limit" },
  { name: "limit above 200", method: "POST", path: "/flow_runs/filter", json: { limit: 201 }, status: 422, field: "limit" },
  { name: "limit above 200 on logs", method: "POST", path: "/logs/filter", json: { limit: 1000 }, status: 422, field: "limit" },
  { name: "limit above 200 on paginate", method: "POST", path: "/deployments/paginate", json: { limit: 500 }, status: 422, field: "limit" },
  { name: "negative offset", method: "POST", path: "/task_runs/filter", json: { offset: -5 }, status: 422, field: "offset" },
  { name: "page zero", method: "POST", path: "/flows/paginate", json: { page: 0 }, status: 422, field: "page" },
  { name: "bulk delete limit above 50", method: "POST", path: "/flow_runs/bulk_delete", json: { limit: 51 }, status: 422, field: "limit" },
  { name: "an infinite limit", method: "POST", path: "/flows/filter", raw: () => '{"limit": 1e400}', contentType: "application/json", status: 422, field: "limit" },
  { name: "too many logs in one batch", method: "POST", path: "/logs/", json: Array.from({ length: 10_001 }, () => log()), status: 422, field: "body" },

  // A body over the 10 MiB default limit.
  { name: "an 11 MiB body", method: "POST", path: "/logs/", raw: () => JSON.stringify([log({ message: "x".repeat(ELEVEN_MIB) })]), contentType: "application/json", status: 413 },
  { name: "an 11 MiB flow name", method: "POST", path: "/flows/", raw: () => JSON.stringify({ name: "x".repeat(ELEVEN_MIB) }), contentType: "application/json", status: 413 },

  // Unknown routes and methods.
  { name: "unknown route", method: "GET", path: "/nope", status: 404 },
  { name: "unknown sub-route", method: "POST", path: "/flows/frobnicate", json: {}, status: 404 },
  { name: "route Baton does not serve", method: "GET", path: () => `/automations/${uuid()}`, status: 404 },
  { name: "method a route does not have", method: "PUT", path: (fx) => `/flows/${fx.flowId}`, json: {}, status: [404, 405] },

  // Unknown ids.
  { name: "unknown flow", method: "GET", path: () => `/flows/${uuid()}`, status: 404 },
  { name: "unknown flow name", method: "GET", path: "/flows/name/never-created", status: 404 },
  { name: "unknown flow run to patch", method: "PATCH", path: () => `/flow_runs/${uuid()}`, json: { name: "x" }, status: 404 },
  { name: "unknown deployment to delete", method: "DELETE", path: () => `/deployments/${uuid()}`, status: 404 },
  { name: "unknown task run to set state", method: "POST", path: () => `/task_runs/${uuid()}/set_state`, json: { state: { type: "RUNNING" } }, status: 404 },
  { name: "unknown flow run state", method: "GET", path: () => `/flow_run_states/${uuid()}`, status: 404 },
  { name: "task run of an unknown flow run", method: "POST", path: "/task_runs/", json: () => ({ flow_run_id: uuid(), task_key: "k", dynamic_key: "0" }), status: 404 },
  { name: "flow run of an unknown flow", method: "POST", path: "/flow_runs/", json: () => ({ flow_id: uuid() }), status: 404 },
  { name: "deployment of an unknown flow", method: "POST", path: "/deployments/", json: () => ({ name: "d", flow_id: uuid() }), status: 404 },
  { name: "flow run of an unknown deployment", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, deployment_id: uuid() }), status: [404, 409] },
  { name: "flow run with an id already taken", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, id: fx.takenRunId }), status: 409 },

  // Wrong content types.
  { name: "XML", method: "POST", path: "/flows/", raw: () => "<flow><name>x</name></flow>", contentType: "application/xml", status: 415 },
  { name: "form-encoded", method: "POST", path: "/flows/", raw: () => "name=x", contentType: "application/x-www-form-urlencoded", status: 415 },
  { name: "JSON sent as text/plain", method: "POST", path: "/flows/", raw: () => '{"name":"as-text"}', contentType: "text/plain", status: 415 },

  // Nulls where objects are expected.
  { name: "null body for a create", method: "POST", path: "/flows/", raw: () => "null", contentType: "application/json", status: 422, field: "name" },
  { name: "null state", method: "POST", path: (fx) => `/flow_runs/${fx.flowRunId}/set_state`, json: { state: null }, status: 422, field: "state" },
  { name: "null parameters", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, parameters: null }), status: 422, field: "parameters" },
  { name: "null state details", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, state: { type: "PENDING", state_details: null } }), status: 422, field: "state_details" },
  { name: "null schedule", method: "POST", path: "/deployments/", json: (fx) => ({ name: "d", flow_id: fx.flowId, schedules: [null] }), status: 422, field: "schedules.0" },
  { name: "null log", method: "POST", path: "/logs/", json: [null], status: 422, field: "body.0" },

  // Arrays where objects are expected, and the reverse.
  { name: "array for a flow", method: "POST", path: "/flows/", json: [], status: 422, field: "body" },
  { name: "array for a filter body", method: "POST", path: "/flow_runs/filter", json: [{ limit: 1 }], status: 422, field: "body" },
  { name: "object for the log batch", method: "POST", path: "/logs/", json: log(), status: 422, field: "body" },
  { name: "array for parameters", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, parameters: [1, 2] }), status: 422, field: "parameters" },
  { name: "array for a state", method: "POST", path: (fx) => `/flow_runs/${fx.flowRunId}/set_state`, json: { state: [{ type: "RUNNING" }] }, status: 422, field: "state" },
  { name: "array for a filter criterion", method: "POST", path: "/flows/filter", json: { flows: [{ name: { any_: ["x"] } }] }, status: 422, field: "flows" },

  // Deeply nested junk.
  { name: "arrays nested in id.any_", method: "POST", path: "/flow_runs/filter", json: { flow_runs: { id: { any_: [[["x"]]] } } }, status: 422, field: "id.any_" },
  { name: "operator object in a name list", method: "POST", path: "/flows/filter", json: { flows: { name: { any_: [{ $gt: "" }] } } }, status: 422, field: "name.any_" },
  { name: "a filter nested 100 deep", method: "POST", path: "/flow_runs/filter", raw: () => `{"flow_runs":${nested(100, "1")}}`, contentType: "application/json", status: 422, field: "flow_runs" },
  { name: "a filter nested 5000 deep", method: "POST", path: "/flow_runs/filter", raw: () => `{"flow_runs":${nested(5000, "1")}}`, contentType: "application/json", status: 422, field: "flow_runs" },
  { name: "parameters nested 5000 deep", method: "POST", path: "/flow_runs/", raw: (fx) => `{"flow_id":"${fx.flowId}","parameters":${nested(5000, "1")}}`, contentType: "application/json", status: [201, 422], field: "parameters" },

  // Values the databases cannot hold.
  { name: "NUL character in a flow name", method: "POST", path: "/flows/", json: { name: "nul\u0000name" }, status: [201, 422], field: "name" },
  { name: "NUL character in a log message", method: "POST", path: "/logs/", json: [log({ message: "a\u0000b" })], status: [201, 422], field: "message" },
  { name: "NUL character in a parameter", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, parameters: { "k\u0000": "v\u0000" } }), status: [201, 422], field: "parameters" },
  // JSON allows a lone surrogate; PostgreSQL's jsonb does not (an automation was a 500 there, an event dropped after its 204).
  { name: "lone surrogate in an automation's trigger", method: "POST", path: "/automations/", json: { name: "s", trigger: { posture: "Reactive", expect: ["x"], match: { env: "a\ud800" } }, actions: [{ type: "do-nothing" }] }, status: 422, field: "env" },
  { name: "lone surrogate in an event's payload", method: "POST", path: "/events", json: [{ id: "4c5e7d2a-0000-4000-8000-000000000001", occurred: "2030-01-01T00:00:00Z", event: "x.y", resource: { "prefect.resource.id": "x" }, payload: { k: "v\udc00" } }], status: 422, field: "payload" },
  { name: "lone surrogate in a key", method: "POST", path: "/flow_runs/", json: (fx) => ({ flow_id: fx.flowId, parameters: { "k\udbff": "v" } }), status: 422, field: "parameters" },
  { name: "surrogate pair escaped is fine", method: "POST", path: "/flows/", raw: () => '{"name": "emoji \\ud83d\\ude00"}', contentType: "application/json", status: 201 },
  { name: "concurrency limit beyond 32 bits", method: "POST", path: "/deployments/", json: (fx) => ({ name: "big-limit", flow_id: fx.flowId, concurrency_limit: 2 ** 40 }), status: [201, 422], field: "concurrency_limit" },
  { name: "filter bound beyond 32 bits", method: "POST", path: "/deployments/filter", json: { deployments: { concurrency_limit: { ge_: 2 ** 40 } } }, status: [200, 422], field: "ge_" },
  { name: "log level bound beyond 32 bits", method: "POST", path: "/logs/filter", json: { logs: { level: { ge_: 2 ** 40 } } }, status: [200, 422], field: "ge_" },
  { name: "70 000 ids in one filter", method: "POST", path: "/flow_runs/filter", json: () => ({ flow_runs: { id: { any_: Array.from({ length: 70_000 }, uuid) } } }), status: [200, 422], field: "any_" },
  { name: "40 000 names in one count", method: "POST", path: "/flows/count", json: () => ({ flows: { name: { any_: Array.from({ length: 40_000 }, (_, i) => `n${i}`) } } }), status: [200, 422], field: "any_" },
];

interface Answer {
  status: number;
  text: string;
}

async function send(server: TestServer, fx: Fixture, row: Row): Promise<Answer> {
  const path = typeof row.path === "function" ? row.path(fx) : row.path;
  let body: string | undefined;
  let contentType = row.contentType;
  if (row.raw) body = row.raw(fx);
  else if (row.json !== undefined) {
    const value = typeof row.json === "function" ? row.json(fx) : row.json;
    body = JSON.stringify(value);
    contentType ??= "application/json";
  }
  const response = await fetch(`${server.apiUrl}${path}`, {
    method: row.method,
    headers: contentType ? { "content-type": contentType } : {},
    body,
  });
  return { status: response.status, text: await response.text() };
}

function parse(text: string): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(text);
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : { value };
  } catch {
    return { unparsable: text.slice(0, 200) };
  }
}

for (const dialect of DIALECTS) {
  describe(dialect, () => {
    let server: TestServer;
    const fx: Fixture = { flowId: "", flowRunId: "", taskRunId: "", deploymentId: "", takenRunId: "" };

    beforeAll(async () => {
      server = await startTestServer(dialect);
      fx.flowId = (await server.call<{ id: string }>("POST", "/flows/", { name: "bad-requests" })).body.id;
      fx.flowRunId = (await server.call<{ id: string }>("POST", "/flow_runs/", { flow_id: fx.flowId })).body.id;
      fx.taskRunId = (await server.call<{ id: string }>("POST", "/task_runs/", { flow_run_id: fx.flowRunId, task_key: "t", dynamic_key: "0" })).body.id;
      const deployment = await server.call<{ id: string }>("POST", "/deployments/", {
        name: "needs-params",
        flow_id: fx.flowId,
        parameter_openapi_schema: { type: "object", properties: { needed: { type: "string" } }, required: ["needed"] },
      });
      fx.deploymentId = deployment.body.id;
      fx.takenRunId = uuid();
      const taken = await server.call("POST", "/flow_runs/", { flow_id: fx.flowId, id: fx.takenRunId });
      expect(taken.status).toBe(201);
      for (const id of [fx.flowId, fx.flowRunId, fx.taskRunId, fx.deploymentId]) expect(id).toMatch(/^[0-9a-f-]{36}$/);
    });
    afterAll(() => server.close());

    it("has a table of at least 40 rows", () => {
      expect(ROWS.length).toBeGreaterThanOrEqual(40);
      expect(new Set(ROWS.map((r) => r.name)).size).toBe(ROWS.length);
    });

    for (const row of ROWS) {
      const expected = typeof row.status === "number" ? [row.status] : row.status;
      it(`${row.method} ${typeof row.path === "string" ? row.path : "…"}: ${row.name} -> ${expected.join(" or ")}`, async () => {
        const answer = await send(server, fx, row);
        const body = parse(answer.text);
        const summary = `${answer.status} ${answer.text.slice(0, 300)}`;
        expect(answer.status, summary).toBeLessThan(500);
        expect(expected, summary).toContain(answer.status);
        if (answer.status === 422) {
          expect(row.field, "a 422 row must name the field it expects").toBeDefined();
          expect(typeof body.exception_message, summary).toBe("string");
          expect(body.exception_message as string, summary).toContain(row.field!);
          expect(Array.isArray(body.exception_detail), summary).toBe(true);
        } else if (answer.status >= 400) {
          expect(typeof body.detail, summary).toBe("string");
          if (answer.status === 400) expect(body.detail as string).toMatch(/JSON/);
        }
      });
    }

    it("still answers /api/health after the whole table", async () => {
      const { status, body } = await server.call("GET", "/health");
      expect(status).toBe(200);
      expect(body).toBe(true);
      const ready = await server.call<{ message: string }>("GET", "/ready");
      expect(ready.status).toBe(200);
      const flow = await server.call<{ id: string }>("GET", `/flows/${fx.flowId}`);
      expect(flow.status).toBe(200);
    });
  });
}
