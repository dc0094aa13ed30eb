import { existsSync } from "node:fs";
import { isAbsolute, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { ApiError, importModule, type Deployment, type FlowRun, type State, type StateType } from "@baton/core";
import type { BatonClient, FlowRunOutcome } from "@baton/sdk";
import { EntrypointError, FlowRunNotExecutableError } from "./errors.js";

/**
 * `baton flow-run execute ID`: what runs in the process a worker starts for a flow run. It
 * reads the run and its deployment, imports the deployment's `entrypoint`
 * (`path/to/file.ts:exportName`, relative to the deployment's `path` or the working
 * directory), and runs that flow for this run: RUNNING is proposed on the run itself, and its
 * recorded parameters are the arguments.
 */

/** The part of a flow function this needs; duck-typed, so a flow made by another copy of the SDK works too. */
interface RunnableFlow {
  readonly name: string;
  /** A flow of an SDK copy without the second parameter reads the run itself. */
  runExisting(flowRunId: string, options?: { flowRun?: FlowRun }): Promise<FlowRunOutcome<unknown>>;
}

export interface ExecuteOptions {
  client: BatonClient;
  flowRunId: string;
  /** Where a deployment without a `path` has its entrypoint; default `process.cwd()`. */
  cwd?: string;
}

export interface ExecuteResult {
  flowRun: FlowRun;
  state: State;
  /** True when the run ended COMPLETED. */
  ok: boolean;
}

/**
 * States a run is not started from: running in another process already, completed, or
 * cancelled (a cancel that landed between the worker's claim and this process's start).
 * Failed and crashed runs may be run again by hand, as Prefect allows.
 */
const NOT_STARTABLE: ReadonlySet<StateType> = new Set<StateType>(["RUNNING", "COMPLETED", "CANCELLING", "CANCELLED"]);

/**
 * Runs a deployment's flow for an existing flow run and resolves with its final state.
 * A flow that cannot be loaded marks the run CRASHED (with the reason) and throws
 * `EntrypointError`.
 *
 * @example
 * const { ok } = await executeFlowRun({ client: new BatonClient({ apiUrl }), flowRunId });
 * process.exitCode = ok ? 0 : 1;
 */
export async function executeFlowRun(options: ExecuteOptions): Promise<ExecuteResult> {
  const { client, flowRunId } = options;
  const run = await client.readFlowRun(flowRunId);
  const stateType = run.state_type;
  if (stateType !== null && NOT_STARTABLE.has(stateType)) {
    throw new FlowRunNotExecutableError(flowRunId, `it is ${run.state_name ?? stateType}`);
  }
  if (run.deployment_id === null) {
    throw new FlowRunNotExecutableError(flowRunId, "it has no deployment, so nothing says which flow to run");
  }
  const deployment = await readDeployment(client, run);
  if (!deployment.entrypoint) {
    throw new FlowRunNotExecutableError(flowRunId, `its deployment '${deployment.name}' has no entrypoint`);
  }
  let flow: RunnableFlow;
  try {
    flow = await loadFlow(deployment.entrypoint, deployment.path ?? undefined, options.cwd ?? process.cwd());
  } catch (error) {
    await reportLoadFailure(client, run, error);
    throw error;
  }
  // The run as read above: the flow's import in between took milliseconds, and RUNNING is still
  // proposed to the server, which refuses it if the run has moved on meanwhile.
  const outcome = await flow.runExisting(flowRunId, { flowRun: run });
  // A suspended run (PAUSED, to be rescheduled) ends its process cleanly: it is not a crash.
  const suspended = outcome.state.type === "PAUSED" && outcome.state.state_details.pause_reschedule === true;
  return { flowRun: outcome.flowRun, state: outcome.state, ok: outcome.state.type === "COMPLETED" || suspended };
}

async function readDeployment(client: BatonClient, run: FlowRun): Promise<Deployment> {
  try {
    return await client.request<Deployment>("GET", `/deployments/${run.deployment_id}`);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      throw new FlowRunNotExecutableError(run.id, `its deployment ${run.deployment_id} no longer exists`);
    }
    throw error;
  }
}

let unregisterTsx: (() => Promise<void>) | undefined;
const TYPESCRIPT = /\.(?:[cm]?ts|tsx)$/i;

/**
 * Imports `file:exportName` and returns the flow exported under that name. TypeScript files
 * are loaded through tsx's loader, registered for the whole process (not scoped, as
 * `tsImport` is) so that the flow file and this code share one copy of `@baton/sdk`; a
 * JavaScript file is imported as it is.
 *
 * @example
 * const flow = await loadFlow("flows/etl.ts:etl", "/srv/project", process.cwd());
 */
export async function loadFlow(entrypoint: string, path: string | undefined, cwd: string): Promise<RunnableFlow> {
  // The last colon: a Windows path has one after its drive letter.
  const separator = entrypoint.lastIndexOf(":");
  const filePart = separator > 0 ? entrypoint.slice(0, separator) : "";
  const exportName = separator > 0 ? entrypoint.slice(separator + 1) : "";
  if (filePart === "" || exportName === "" || /[\\/]/.test(exportName)) {
    throw new EntrypointError(entrypoint, "expected path/to/file.ts:exportName");
  }
  const base = path === undefined ? cwd : resolve(cwd, path);
  const file = isAbsolute(filePart) ? filePart : resolve(base, filePart);
  if (!existsSync(file)) throw new EntrypointError(entrypoint, `no such file: ${file}`);

  // Plain JavaScript needs no loader (nor the cost of loading tsx); TypeScript goes through tsx, registered once.
  if (TYPESCRIPT.test(file) && unregisterTsx === undefined) {
    const { register } = await importModule<typeof import("tsx/esm/api")>(import.meta.resolve("tsx/esm/api"));
    unregisterTsx ??= register();
  }
  let module: Record<string, unknown>;
  try {
    module = await importModule(pathToFileURL(file).href);
  } catch (error) {
    throw new EntrypointError(entrypoint, `importing ${file} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  if (!(exportName in module)) {
    const names = Object.keys(module).join(", ") || "none";
    throw new EntrypointError(entrypoint, `${file} has no export named '${exportName}' (its exports: ${names})`);
  }
  const value = module[exportName];
  if (!isRunnableFlow(value)) {
    throw new EntrypointError(entrypoint, `the export '${exportName}' is not a flow: make it with flow() from @baton/sdk`);
  }
  return value;
}

function isRunnableFlow(value: unknown): value is RunnableFlow {
  return typeof value === "function" && typeof (value as Partial<RunnableFlow>).runExisting === "function";
}

/**
 * A run whose flow cannot even be loaded is CRASHED with the reason, as Prefect marks runs
 * whose infrastructure failed: left PENDING, it would hold its slot until someone noticed.
 */
async function reportLoadFailure(client: BatonClient, run: FlowRun, error: unknown): Promise<void> {
  const reason = error instanceof Error ? error.message : String(error);
  try {
    await client.setFlowRunState(run.id, { type: "CRASHED", name: "Crashed", message: reason });
  } catch {
    // The error itself is what the caller reports; the worker marks the run CRASHED when this process exits.
  }
}
