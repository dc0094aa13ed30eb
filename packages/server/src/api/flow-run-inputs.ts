import {
  FlowRunInput,
  FlowRunInputCreate,
  FlowRunInputFilterBody,
  FlowRunInputKey,
  FlowRunResumeBody,
  Id,
  ObjectNotFoundError,
  OrchestrationResult,
  type State,
} from "@baton/core";
import { z } from "zod";
import { createFlowRunInput, deleteFlowRunInput, filterFlowRunInputs, readFlowRunInput } from "../db/queries/flow-run-inputs.js";
import { readFlowRunRow } from "../db/queries/flow-runs.js";
import { runState } from "../db/queries/runs.js";
import { setRunState } from "../orchestration/set-state.js";
import { checkParameters } from "../validation/parameter-schema.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

const KeyParams = z.object({ id: Id, key: FlowRunInputKey });

/**
 * Inputs of a flow run (what a paused run asked for and was sent) and `resume`, which checks
 * the input a paused run waits for against the schema it stored, keeps it, and lets the run go
 * on: a pause back to RUNNING, a suspension (`pause_reschedule`) to Scheduled "Resuming" for a
 * worker to start again.
 */
export function registerFlowRunInputRoutes({ router, db, events }: ApiContext): void {
  router.route({
    method: "POST",
    path: "/flow_runs/{id}/input",
    tag: "Flow Runs",
    summary: "Store an input of a flow run under a key (409 when the key is taken)",
    params: IdParams,
    body: FlowRunInputCreate,
    status: 201,
    handler: async ({ params, body }) => {
      await requireRun(db, params.id);
      await createFlowRunInput(db.kysely, params.id, body);
      return null;
    },
  });
  router.route({
    method: "POST",
    path: "/flow_runs/{id}/input/filter",
    tag: "Flow Runs",
    summary: "The flow run's inputs whose key starts with a prefix",
    params: IdParams,
    body: FlowRunInputFilterBody,
    response: z.array(FlowRunInput),
    handler: ({ params, body }) => filterFlowRunInputs(db.kysely, params.id, body),
  });
  router.route({
    method: "GET",
    path: "/flow_runs/{id}/input/{key}",
    tag: "Flow Runs",
    summary: "Read the value of a flow run's input (the JSON it was stored as)",
    params: KeyParams,
    handler: async ({ params, reply }) => {
      const input = (await readFlowRunInput(db.kysely, params.id, params.key)) ?? inputNotFound(params.key);
      return reply.type("application/json; charset=utf-8").send(input.value);
    },
  });
  router.route({
    method: "DELETE",
    path: "/flow_runs/{id}/input/{key}",
    tag: "Flow Runs",
    summary: "Delete a flow run's input",
    params: KeyParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteFlowRunInput(db.kysely, params.id, params.key))) inputNotFound(params.key);
    },
  });
  router.route({
    method: "POST",
    path: "/flow_runs/{id}/resume",
    tag: "Flow Runs",
    summary: "Resume a paused flow run, with the input it asked for (checked against its schema: a 422 names the field)",
    params: IdParams,
    body: FlowRunResumeBody,
    response: OrchestrationResult,
    status: 201,
    handler: async ({ params, body, reply }) => {
      const run = await requireRun(db, params.id);
      const state = runState(run);
      if (state?.type !== "PAUSED") {
        reply.code(200);
        return abort(state, "Cannot resume a flow run that is not paused.");
      }
      const details = state.state_details;
      const timeout = details.pause_timeout ? Date.parse(details.pause_timeout) : undefined;
      if (timeout !== undefined && timeout < Date.now()) {
        reply.code(200);
        return abort(state, "The flow run's pause has timed out and it can no longer be resumed.");
      }
      const keyset = details.run_input_keyset;
      if (keyset?.["schema"] && keyset["response"]) {
        const schemaInput = await readFlowRunInput(db.kysely, run.id, keyset["schema"]);
        if (!schemaInput) {
          reply.code(200);
          return abort(state, "Run input schema not found.");
        }
        const runInput = body.run_input ?? {};
        checkParameters(JSON.parse(schemaInput.value) as Record<string, unknown>, runInput, { field: "body.run_input" });
        await createFlowRunInput(db.kysely, run.id, { key: keyset["response"], value: JSON.stringify(runInput) });
      }
      const now = new Date().toISOString();
      const result = details.pause_reschedule
        ? await setRunState(db, "flow_run", run.id, { type: "SCHEDULED", name: "Resuming", state_details: { scheduled_time: now } }, { events })
        : await setRunState(db, "flow_run", run.id, { type: "RUNNING", name: "Running" }, { events });
      if (result.status !== "ACCEPT") reply.code(200);
      return result;
    },
  });
}

async function requireRun(db: ApiContext["db"], id: string) {
  return (await readFlowRunRow(db.kysely, id)) ?? runNotFound(id);
}

function abort(state: State | null, reason: string): OrchestrationResult {
  return { state, status: "ABORT", details: { type: "abort_details", reason } };
}

function runNotFound(id: string): never {
  throw new ObjectNotFoundError("Flow run", id);
}

function inputNotFound(key: string): never {
  throw new ObjectNotFoundError(`Flow run input '${key}'`, key);
}
