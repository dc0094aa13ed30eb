import type { TestServer } from "../../server/test/harness.js";

export interface Seeded {
  flowId: string;
  otherFlowId: string;
  deploymentId: string;
  runs: { completed: string; failed: string; running: string; scheduled: string; paused: string };
  taskRuns: string[];
}

async function ok<T>(server: TestServer, method: string, path: string, body?: unknown): Promise<T> {
  const response = await server.call<T>(method, path, body);
  if (response.status >= 400) throw new Error(`seed: ${method} ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

/** Moves a run through the given states in order (forced: the seed sets up history, not orchestration). */
async function walk(server: TestServer, kind: "flow_runs" | "task_runs", id: string, states: Array<{ type: string; name?: string; data?: unknown; message?: string; state_details?: Record<string, unknown> }>) {
  for (const state of states) await ok(server, "POST", `/${kind}/${id}/set_state`, { state, force: true });
}

/**
 * What the UI tests look at: two flows, a work pool with a worker, a deployment with a
 * parameter schema, runs in several states (one with task runs, logs, a result and an
 * artifact), variables, blocks, concurrency limits and events.
 */
export async function seed(server: TestServer): Promise<Seeded> {
  const flow = await ok<{ id: string }>(server, "POST", "/flows/", { name: "etl", tags: ["data"] });
  const other = await ok<{ id: string }>(server, "POST", "/flows/", { name: "report" });
  await ok(server, "POST", "/work_pools/", { name: "local", type: "process", concurrency_limit: 5 });
  await ok(server, "POST", "/work_pools/local/workers/heartbeat", { name: "worker-1", heartbeat_interval_seconds: 30 });
  const deployment = await ok<{ id: string }>(server, "POST", "/deployments/", {
    name: "nightly",
    flow_id: flow.id,
    work_pool_name: "local",
    entrypoint: "flows/etl.ts:etl",
    tags: ["prod"],
    parameters: { rows: 100 },
    parameter_openapi_schema: {
      type: "object",
      title: "Parameters",
      properties: {
        source: { type: "string", title: "source", description: "Where to read from", default: "s3://bucket" },
        rows: { type: "integer", title: "rows", default: 10 },
        dry_run: { type: "boolean", title: "dry_run", default: false },
        mode: { type: "string", title: "mode", enum: ["full", "incremental"], default: "full" },
      },
      required: ["source"],
    },
    schedules: [{ schedule: { interval: 3600, timezone: "UTC" }, active: true }],
  });

  const run = async (name: string, flowId: string, tags: string[] = []) =>
    (await ok<{ id: string }>(server, "POST", "/flow_runs/", { flow_id: flowId, name, tags, parameters: { rows: 5 } })).id;
  const completed = await run("brave-otter", flow.id, ["nightly"]);
  await walk(server, "flow_runs", completed, [{ type: "PENDING" }, { type: "RUNNING" }]);
  const taskRuns: string[] = [];
  let previous: string | undefined;
  for (const key of ["extract", "transform", "load"]) {
    const taskRun = await ok<{ id: string }>(server, "POST", "/task_runs/", {
      flow_run_id: completed,
      name: `${key}-0`,
      task_key: key,
      dynamic_key: "0",
      task_inputs: previous ? { data: [{ input_type: "task_run", id: previous }] } : {},
    });
    await walk(server, "task_runs", taskRun.id, [{ type: "PENDING" }, { type: "RUNNING" }, { type: "COMPLETED" }]);
    taskRuns.push(taskRun.id);
    previous = taskRun.id;
  }
  await ok(server, "POST", "/logs/", [
    { name: "baton.flow_runs", level: 20, message: "Extracting 5 rows", timestamp: new Date().toISOString(), flow_run_id: completed, task_run_id: taskRuns[0] },
    { name: "baton.flow_runs", level: 30, message: "Row 3 looks odd", timestamp: new Date().toISOString(), flow_run_id: completed, task_run_id: null },
  ]);
  await walk(server, "flow_runs", completed, [{ type: "COMPLETED", data: { type: "json", value: { rows: 5 } } }]);
  await ok(server, "POST", "/artifacts/", { key: "etl-summary", type: "markdown", data: "# Loaded 5 rows", flow_run_id: completed, description: "summary" });
  await ok(server, "POST", "/artifacts/", { key: "etl-table", type: "table", data: [{ a: 1, b: 2 }], flow_run_id: completed });

  const failed = await run("grumpy-badger", flow.id);
  await walk(server, "flow_runs", failed, [{ type: "PENDING" }, { type: "RUNNING" }, { type: "FAILED", message: "Flow run failed: ValueError" }]);
  const running = await run("swift-heron", other.id, ["adhoc"]);
  await walk(server, "flow_runs", running, [{ type: "PENDING" }, { type: "RUNNING" }]);
  const scheduled = (await ok<{ id: string }>(server, "POST", `/deployments/${deployment.id}/create_flow_run`, { name: "patient-lynx", parameters: { source: "s3://seed" }, state: { type: "SCHEDULED", state_details: { scheduled_time: new Date(Date.now() + 3_600_000).toISOString() } } })).id;
  const paused = await run("sleepy-koala", flow.id);
  // Paused waiting for a person: the schema of the input it wants is stored as a run input.
  await ok(server, "POST", `/flow_runs/${paused}/input`, {
    key: "paused-1-schema",
    value: JSON.stringify({ type: "object", title: "Approval", properties: { approved: { type: "boolean", title: "approved" }, note: { type: "string", title: "note" } }, required: ["note"] }),
  });
  await walk(server, "flow_runs", paused, [
    { type: "PENDING" },
    { type: "RUNNING" },
    { type: "PAUSED", name: "Paused", state_details: { pause_key: "1", run_input_keyset: { schema: "paused-1-schema", response: "paused-1-response" } } },
  ]);

  await ok(server, "POST", "/variables/", { name: "region", value: "eu-west-1", tags: ["infra"] });
  await ok(server, "POST", "/v2/concurrency_limits/", { name: "database", limit: 3 });
  await ok(server, "POST", "/concurrency_limits/", { tag: "warehouse", concurrency_limit: 2 });
  await ok(server, "POST", "/block_types/install_system_block_types");
  const jsonType = await ok<{ id: string }>(server, "GET", "/block_types/slug/json");
  const [jsonSchema] = await ok<Array<{ id: string }>>(server, "POST", "/block_schemas/filter", { block_schemas: { block_type_id: { any_: [jsonType.id] } }, limit: 1 });
  await ok(server, "POST", "/block_documents/", { name: "warehouse-config", data: { value: { host: "db.internal", port: 5432 } }, block_schema_id: jsonSchema!.id, block_type_id: jsonType.id });
  await ok(server, "POST", "/events", [
    { id: crypto.randomUUID(), occurred: new Date().toISOString(), event: "baton.seed.ready", resource: { "prefect.resource.id": "seed.resource", "prefect.resource.name": "seed" }, payload: { ok: true } },
  ]);
  return { flowId: flow.id, otherFlowId: other.id, deploymentId: deployment.id, runs: { completed, failed, running, scheduled, paused }, taskRuns };
}

/** Every page of the UI, by path (ids filled in from the seed). */
export function pagePaths(data: Seeded): Array<[string, string]> {
  return [
    ["dashboard", "/"],
    ["flow-runs", "/runs"],
    ["flow-run", `/runs/${data.runs.completed}`],
    ["flows", "/flows"],
    ["flow", `/flows/${data.flowId}`],
    ["deployments", "/deployments"],
    ["deployment", `/deployments/${data.deploymentId}`],
    ["work-pools", "/work-pools"],
    ["work-pool", "/work-pools/local"],
    ["concurrency-limits", "/concurrency-limits"],
    ["variables", "/variables"],
    ["blocks", "/blocks"],
    ["artifacts", "/artifacts"],
    ["events", "/events"],
    ["automations", "/automations"],
  ];
}
