import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DeploymentFilter,
  DeploymentSort,
  DeploymentStatus,
  FlowFilter,
  FlowRunFilter,
  FlowRunSort,
  FlowSort,
  LogFilter,
  LogSort,
  STATE_TYPES,
  SetStateStatus,
  TaskRunFilter,
  TaskRunSort,
} from "@baton/core";
import { DIALECTS, startTestServer, type TestServer } from "./harness.js";

/**
 * Baton's responses checked against Prefect's published OpenAPI document: every property the
 * contract lists for a representative response is present (by name), values have the listed
 * JSON types and formats, and enum values are the contract's. The contract file lives next to
 * the repository (`../shared/contract/`); without it these tests skip and say so.
 */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const CONTRACT_PATH = join(REPO_ROOT, "../shared/contract/prefect-rest-api-v3.openapi.json");

type Schema = { [key: string]: unknown };
interface OpenApi {
  paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema: Schema }> }> }>>;
  components: { schemas: Record<string, Schema> };
}

const contract: OpenApi | undefined = existsSync(CONTRACT_PATH) ? (JSON.parse(readFileSync(CONTRACT_PATH, "utf8")) as OpenApi) : undefined;
if (!contract) console.warn(`contract.test.ts: skipped, the contract file is absent (${CONTRACT_PATH})`);

/** The response objects whose every listed property must be present, not only the required ones. */
const REPRESENTATIVE = new Set([
  "Flow",
  "FlowRunResponse",
  "TaskRun",
  "State",
  "OrchestrationResult",
  "DeploymentResponse",
  "DeploymentSchedule",
  "Log",
  "CsrfToken",
  "HistoryResponse",
  "HistoryResponseState",
  "FlowPaginationResponse",
  "FlowRunPaginationResponse",
  "TaskRunPaginationResponse",
  "DeploymentPaginationResponse",
]);

function schemaNamed(name: string): Schema {
  const schema = contract?.components.schemas[name];
  if (!schema) throw new Error(`the contract has no schema ${name}`);
  return schema;
}

function refName(schema: Schema): string | undefined {
  const ref = schema.$ref;
  return typeof ref === "string" ? ref.replace("#/components/schemas/", "") : undefined;
}

/** The documented success schema of a route. */
function responseSchema(method: string, path: string): Schema {
  const operation = contract?.paths[path]?.[method];
  if (!operation) throw new Error(`the contract has no ${method.toUpperCase()} ${path}`);
  const success = Object.entries(operation.responses).find(([status]) => status.startsWith("2"));
  const schema = success?.[1].content?.["application/json"]?.schema;
  if (!schema) throw new Error(`the contract documents no JSON response for ${method.toUpperCase()} ${path}`);
  return schema;
}

interface CheckOptions {
  /** Require every listed property on these named schemas (others need only their required ones). */
  complete: (name: string) => boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  if (typeof value === "number") return Number.isInteger(value) ? "integer" : "number";
  return typeof value;
}

/**
 * A small JSON-schema check covering what the contract uses for responses: $ref, anyOf /
 * oneOf / allOf, type, enum, const, format (uuid, date-time), minimum, properties, items and
 * additionalProperties. Returns one message per problem, each with its path.
 */
function check(schemaIn: Schema, value: unknown, path: string, options: CheckOptions, name?: string): string[] {
  const ref = refName(schemaIn);
  const schema = ref ? schemaNamed(ref) : schemaIn;
  const ownName = ref ?? name;
  const errors: string[] = [];
  const alternatives = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined;
  if (alternatives) {
    const results = alternatives.map((alt) => check(alt, value, path, options));
    if (results.some((r) => r.length === 0)) return [];
    // Report against the closest alternative that is not the `null` one (unless the value is null).
    const candidates = results.filter((_, i) => value === null || (alternatives[i] as Schema).type !== "null");
    const best = (candidates.length > 0 ? candidates : results).reduce((a, b) => (b.length < a.length ? b : a));
    return [`${path}: matches no alternative (${jsonType(value)}); closest: ${best.join("; ")}`];
  }
  for (const part of (schema.allOf as Schema[] | undefined) ?? []) errors.push(...check(part, value, path, options));
  if ("const" in schema && value !== schema.const) errors.push(`${path}: expected ${JSON.stringify(schema.const)}, got ${JSON.stringify(value)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} is not one of ${JSON.stringify(schema.enum)}`);
  const type = schema.type as string | string[] | undefined;
  if (type !== undefined) {
    const allowed = Array.isArray(type) ? type : [type];
    const actual = jsonType(value);
    const ok = allowed.includes(actual) || (actual === "integer" && allowed.includes("number"));
    if (!ok) return [...errors, `${path}: expected ${allowed.join("|")}, got ${actual} (${JSON.stringify(value)?.slice(0, 80)})`];
  }
  if (typeof value === "string") {
    if (schema.format === "uuid" && !UUID.test(value)) errors.push(`${path}: not a uuid: ${value}`);
    if (schema.format === "date-time" && (!DATE_TIME.test(value) || Number.isNaN(Date.parse(value)))) errors.push(`${path}: not a date-time: ${value}`);
  }
  if (typeof value === "number") {
    if (typeof schema.minimum === "number" && value < schema.minimum) errors.push(`${path}: ${value} < minimum ${schema.minimum}`);
    if (typeof schema.exclusiveMinimum === "number" && value <= schema.exclusiveMinimum) errors.push(`${path}: ${value} <= exclusiveMinimum ${schema.exclusiveMinimum}`);
  }
  if (Array.isArray(value) && schema.items) {
    value.forEach((item, i) => errors.push(...check(schema.items as Schema, item, `${path}[${i}]`, options)));
  }
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    const required = new Set((schema.required as string[] | undefined) ?? []);
    const complete = ownName !== undefined && options.complete(ownName);
    for (const [key, propertySchema] of Object.entries(properties)) {
      if (!(key in object)) {
        if (complete || required.has(key)) errors.push(`${path}.${key}: missing (listed by ${ownName ?? "the contract"})`);
        continue;
      }
      errors.push(...check(propertySchema, object[key], `${path}.${key}`, options));
    }
    if (schema.additionalProperties && typeof schema.additionalProperties === "object") {
      for (const [key, item] of Object.entries(object)) {
        if (!(key in properties)) errors.push(...check(schema.additionalProperties as Schema, item, `${path}.${key}`, options));
      }
    }
  }
  return errors;
}

const TOP: CheckOptions = { complete: (name) => REPRESENTATIVE.has(name) };
const DEEP: CheckOptions = { complete: () => true };

function enumOf(name: string): unknown[] {
  const values = schemaNamed(name).enum;
  if (!Array.isArray(values)) throw new Error(`${name} is not an enum in the contract`);
  return values;
}

for (const dialect of DIALECTS) {
  describe.skipIf(!contract)(contract ? dialect : `${dialect} (skipped: contract file absent at ${CONTRACT_PATH})`, () => {
    let server: TestServer;
    /** Responses captured once, by a name used in the test titles. */
    const captured: Record<string, { method: string; path: string; body: unknown }> = {};

    async function capture(key: string, method: string, contractPath: string, urlPath: string, body?: unknown): Promise<unknown> {
      const response = await server.call(method, urlPath, body);
      expect(response.status, `${method} ${urlPath}: ${JSON.stringify(response.body)?.slice(0, 300)}`).toBeLessThan(300);
      captured[key] = { method: method.toLowerCase(), path: contractPath, body: response.body };
      return response.body;
    }

    beforeAll(async () => {
      server = await startTestServer(dialect);
      const flow = (await capture("Flow", "POST", "/flows/", "/flows/", { name: "contract", tags: ["c"], labels: { a: "b" } })) as { id: string };
      const deployment = (await capture("DeploymentResponse (create)", "POST", "/deployments/", "/deployments/", {
        name: "contract-dep",
        flow_id: flow.id,
        tags: ["d"],
        parameters: { x: 1 },
        parameter_openapi_schema: { type: "object", properties: { x: { type: "integer" } } },
        schedules: [{ schedule: { interval: 3600 } }, { schedule: { cron: "0 0 * * *", timezone: "UTC" } }, { schedule: { rrule: "FREQ=DAILY" } }],
        concurrency_limit: 2,
        concurrency_options: { collision_strategy: "ENQUEUE" },
      })) as { id: string };
      await capture("DeploymentResponse", "GET", "/deployments/{id}", `/deployments/${deployment.id}`);
      const run = (await capture("FlowRunResponse (create_flow_run)", "POST", "/deployments/{id}/create_flow_run", `/deployments/${deployment.id}/create_flow_run`, {})) as {
        id: string;
      };
      await capture("OrchestrationResult (ACCEPT)", "POST", "/flow_runs/{id}/set_state", `/flow_runs/${run.id}/set_state`, { state: { type: "PENDING" } });
      await capture("OrchestrationResult (ABORT)", "POST", "/flow_runs/{id}/set_state", `/flow_runs/${run.id}/set_state`, { state: { type: "PENDING" } });
      const running = (await capture("OrchestrationResult (RUNNING)", "POST", "/flow_runs/{id}/set_state", `/flow_runs/${run.id}/set_state`, {
        state: { type: "RUNNING" },
      })) as { state: { id: string } };
      const later = await server.call<{ id: string }>("POST", "/flow_runs/", {
        flow_id: flow.id,
        state: { type: "SCHEDULED", state_details: { scheduled_time: new Date(Date.now() + 600_000).toISOString() } },
      });
      await capture("OrchestrationResult (WAIT)", "POST", "/flow_runs/{id}/set_state", `/flow_runs/${later.body.id}/set_state`, { state: { type: "RUNNING" } });
      const task = (await capture("TaskRun (create)", "POST", "/task_runs/", "/task_runs/", {
        flow_run_id: run.id,
        task_key: "contract-task",
        dynamic_key: "0",
        task_inputs: { a: [{ input_type: "parameter", name: "x" }] },
      })) as { id: string };
      await capture("OrchestrationResult (task RUNNING)", "POST", "/task_runs/{id}/set_state", `/task_runs/${task.id}/set_state`, { state: { type: "RUNNING" } });
      await capture("OrchestrationResult (task COMPLETED)", "POST", "/task_runs/{id}/set_state", `/task_runs/${task.id}/set_state`, {
        state: { type: "COMPLETED", data: { type: "unpersisted" } },
      });
      await capture("OrchestrationResult (REJECT)", "POST", "/task_runs/{id}/set_state", `/task_runs/${task.id}/set_state`, { state: { type: "CRASHED" } });
      await capture("TaskRun", "GET", "/task_runs/{id}", `/task_runs/${task.id}`);
      await capture("FlowRunResponse", "GET", "/flow_runs/{id}", `/flow_runs/${run.id}`);
      await capture("State", "GET", "/flow_run_states/{id}", `/flow_run_states/${running.state.id}`);
      await capture("State (task)", "GET", "/task_run_states/{id}", `/task_run_states/${(captured["TaskRun"]!.body as { state_id: string }).state_id}`);
      await capture("State list", "GET", "/flow_run_states/", `/flow_run_states/?flow_run_id=${run.id}`);
      expect(
        (await server.call("POST", "/logs/", [{ name: "c", level: 20, message: "m", timestamp: new Date().toISOString(), flow_run_id: run.id, task_run_id: task.id }])).status,
      ).toBe(201);
      await capture("Log", "POST", "/logs/filter", "/logs/filter", { logs: { flow_run_id: { any_: [run.id] } } });
      await capture("Flow list", "POST", "/flows/filter", "/flows/filter", {});
      await capture("FlowRunResponse list", "POST", "/flow_runs/filter", "/flow_runs/filter", {});
      await capture("TaskRun list", "POST", "/task_runs/filter", "/task_runs/filter", {});
      await capture("DeploymentResponse list", "POST", "/deployments/filter", "/deployments/filter", {});
      await capture("FlowPaginationResponse", "POST", "/flows/paginate", "/flows/paginate", { limit: 1 });
      await capture("FlowRunPaginationResponse", "POST", "/flow_runs/paginate", "/flow_runs/paginate", { limit: 1 });
      await capture("TaskRunPaginationResponse", "POST", "/task_runs/paginate", "/task_runs/paginate", {});
      await capture("DeploymentPaginationResponse", "POST", "/deployments/paginate", "/deployments/paginate", {});
      await capture("count", "POST", "/flow_runs/count", "/flow_runs/count", {});
      const now = Date.now();
      await capture("HistoryResponse", "POST", "/flow_runs/history", "/flow_runs/history", {
        history_start: new Date(now - 3600_000).toISOString(),
        history_end: new Date(now + 3600_000).toISOString(),
        history_interval_seconds: 600,
      });
      await capture("CsrfToken", "GET", "/csrf-token", "/csrf-token?client=contract");
    });
    afterAll(() => server.close());

    const CASES = [
      ["Flow", "Flow"],
      ["Flow list", "Flow"],
      ["FlowRunResponse", "FlowRunResponse"],
      ["FlowRunResponse (create_flow_run)", "FlowRunResponse"],
      ["FlowRunResponse list", "FlowRunResponse"],
      ["TaskRun", "TaskRun"],
      ["TaskRun (create)", "TaskRun"],
      ["TaskRun list", "TaskRun"],
      ["State", "State"],
      ["State (task)", "State"],
      ["State list", "State"],
      ["OrchestrationResult (ACCEPT)", "OrchestrationResult"],
      ["OrchestrationResult (ABORT)", "OrchestrationResult"],
      ["OrchestrationResult (RUNNING)", "OrchestrationResult"],
      ["OrchestrationResult (WAIT)", "OrchestrationResult"],
      ["OrchestrationResult (REJECT)", "OrchestrationResult"],
      ["OrchestrationResult (task RUNNING)", "OrchestrationResult"],
      ["OrchestrationResult (task COMPLETED)", "OrchestrationResult"],
      ["DeploymentResponse", "DeploymentResponse"],
      ["DeploymentResponse (create)", "DeploymentResponse"],
      ["DeploymentResponse list", "DeploymentResponse"],
      ["Log", "Log"],
      ["FlowPaginationResponse", "FlowPaginationResponse"],
      ["FlowRunPaginationResponse", "FlowRunPaginationResponse"],
      ["TaskRunPaginationResponse", "TaskRunPaginationResponse"],
      ["DeploymentPaginationResponse", "DeploymentPaginationResponse"],
      ["HistoryResponse", "HistoryResponse"],
      ["CsrfToken", "CsrfToken"],
      ["count", undefined],
    ] as const;

    for (const [key, schemaName] of CASES) {
      it(`${key} matches the contract's ${schemaName ?? "response"} schema`, () => {
        const response = captured[key];
        expect(response, `no response captured for ${key}`).toBeDefined();
        const schema = responseSchema(response!.method, response!.path);
        if (schemaName) {
          // The route documents the schema this case is named after (directly or as array items).
          const documented = refName(schema) ?? refName((schema.items as Schema | undefined) ?? {});
          expect(documented).toBe(schemaName);
        }
        const body = response!.body;
        if (Array.isArray(body)) expect(body.length, `${key} should not be empty, or nothing is checked`).toBeGreaterThan(0);
        expect(check(schema, body, key, TOP)).toEqual([]);
      });
    }

    it("every representative schema lists properties, so the checks above are not vacuous", () => {
      for (const name of ["Flow", "FlowRunResponse", "TaskRun", "State", "OrchestrationResult", "DeploymentResponse", "Log"]) {
        expect(Object.keys((schemaNamed(name).properties ?? {}) as object).length, name).toBeGreaterThan(2);
      }
      expect(check(schemaNamed("Flow"), { id: "x" }, "probe", TOP).length).toBeGreaterThan(2);
    });

    it("OrchestrationResult details carry the variant the status implies", () => {
      const expected = { ACCEPT: "accept_details", REJECT: "reject_details", WAIT: "wait_details", ABORT: "abort_details" } as const;
      const seen = new Set<string>();
      for (const [key, response] of Object.entries(captured)) {
        if (!key.startsWith("OrchestrationResult")) continue;
        const result = response.body as { status: keyof typeof expected; details: { type: string; delay_seconds?: number } };
        seen.add(result.status);
        expect(result.details.type, key).toBe(expected[result.status]);
        const variant = { accept_details: "StateAcceptDetails", reject_details: "StateRejectDetails", wait_details: "StateWaitDetails", abort_details: "StateAbortDetails" }[
          result.details.type
        ];
        expect(variant, key).toBeDefined();
        expect(check(schemaNamed(variant!), result.details, `${key}.details`, DEEP)).toEqual([]);
      }
      expect([...seen].sort()).toEqual(["ABORT", "ACCEPT", "REJECT", "WAIT"]);
    });

    // Nested objects, checked with every listed property required (Prefect serialises defaults).
    const NESTED = [
      ["state_details lists every StateDetails property", ["State", "FlowRunResponse", "TaskRun"], "state_details"],
      ["empirical_policy lists every FlowRunPolicy / TaskRunPolicy property", ["FlowRunResponse", "TaskRun"], "empirical_policy"],
      ["deployment schedules list every schedule property", ["DeploymentResponse"], "schedule"],
      ["deployment concurrency_options lists every ConcurrencyOptions property", ["DeploymentResponse"], "concurrency_options"],
    ] as const;
    for (const [title, keys, part] of NESTED) {
      it(`nested: ${title}`, () => {
        const errors: string[] = [];
        for (const key of keys) {
          const response = captured[key]!;
          errors.push(...check(responseSchema(response.method, response.path), response.body, key, DEEP).filter((e) => e.includes(`.${part}`)));
        }
        expect(errors).toEqual([]);
      });
    }

    it("Baton's enums are the contract's enums", () => {
      expect([...STATE_TYPES]).toEqual(enumOf("StateType"));
      expect(FlowRunSort.options).toEqual(enumOf("FlowRunSort"));
      expect(TaskRunSort.options).toEqual(enumOf("TaskRunSort"));
      expect(FlowSort.options).toEqual(enumOf("FlowSort"));
      expect(DeploymentSort.options).toEqual(enumOf("DeploymentSort"));
      expect(LogSort.options).toEqual(enumOf("LogSort"));
      expect(SetStateStatus.options).toEqual(enumOf("SetStateStatus"));
      expect(DeploymentStatus.options).toEqual(enumOf("DeploymentStatus"));
    });

    it("every enum value in the captured responses is one the contract lists", () => {
      const stateTypes = enumOf("StateType");
      for (const [key, response] of Object.entries(captured)) {
        // State types appear as `state_type` and as the `type` of state objects (those with
        // `state_details`); other `type` fields (created_by.type, details.type) are not states.
        const found: string[] = [];
        const walk = (node: unknown): void => {
          if (Array.isArray(node)) return node.forEach(walk);
          if (node === null || typeof node !== "object") return;
          const record = node as Record<string, unknown>;
          if (typeof record.state_type === "string") found.push(record.state_type);
          if ("state_details" in record && typeof record.type === "string") found.push(record.type);
          Object.values(record).forEach(walk);
        };
        walk(response.body);
        for (const value of found) expect(stateTypes, `${key}: ${value}`).toContain(value);
      }
    });

    it("filter objects accept every criterion the contract lists", () => {
      const pairs = [
        ["FlowFilter", FlowFilter],
        ["FlowRunFilter", FlowRunFilter],
        ["TaskRunFilter", TaskRunFilter],
        ["DeploymentFilter", DeploymentFilter],
        ["LogFilter", LogFilter],
      ] as const;
      const missing: string[] = [];
      for (const [name, zodSchema] of pairs) {
        const ours = new Set(Object.keys(zodSchema.shape));
        for (const key of Object.keys((schemaNamed(name).properties ?? {}) as object)) if (!ours.has(key)) missing.push(`${name}.${key}`);
      }
      expect(missing).toEqual([]);
    });
  });
}
