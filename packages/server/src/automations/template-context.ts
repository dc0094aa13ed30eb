import { InvalidInputError, type Action, type Automation, type ReceivedEvent } from "@baton/core";
import type { ApiCaller } from "./api-caller.js";
import type { Firing } from "./firing.js";
import { resourceIdOfKind } from "./matching.js";
import { isTemplated, renderTemplate, validateTemplate } from "./templates.js";

/**
 * The data an action's templates see, as Prefect's: `automation`, `event` (the triggering
 * event), `labels` (the `for_each` values), `firing`, `firings`, and the objects the event is
 * about: `flow_run`, `flow`, `deployment`, `work_queue`, `work_pool` (null when it names none).
 * Objects are read only when the templates mention them.
 */
export async function templateContext(
  api: ApiCaller,
  automation: Automation,
  firing: Firing,
  event: ReceivedEvent | null,
  templateText: string,
): Promise<Record<string, unknown>> {
  const context: Record<string, unknown> = {
    automation,
    event,
    labels: firing.triggering_labels,
    firing,
    firings: firing.triggering_firings.length > 0 ? firing.triggering_firings : [firing],
    flow_run: null,
    flow: null,
    deployment: null,
    work_queue: null,
    work_pool: null,
  };
  if (!isTemplated(templateText)) return context;
  const mentions = (name: string) => new RegExp(`\\b${name}\\b`).test(templateText);
  const read = async (path: string): Promise<Record<string, unknown> | null> => {
    const response = await api.request("GET", path);
    return response.status === 200 && response.body && typeof response.body === "object" ? (response.body as Record<string, unknown>) : null;
  };
  const flowRunId = resourceIdOfKind(event, "flow-run");
  const flowRun = flowRunId && (mentions("flow_run") || mentions("flow") || mentions("deployment") || mentions("work_pool") || mentions("work_queue")) ? await read(`/flow_runs/${flowRunId}`) : null;
  context.flow_run = flowRun;
  const idOf = (kind: string, field: string): string | undefined =>
    resourceIdOfKind(event, kind) ?? (flowRun && typeof flowRun[field] === "string" ? (flowRun[field] as string) : undefined);
  const flowId = idOf("flow", "flow_id");
  if (flowId && mentions("flow")) context.flow = await read(`/flows/${flowId}`);
  const deploymentId = idOf("deployment", "deployment_id");
  if (deploymentId && mentions("deployment")) context.deployment = await read(`/deployments/${deploymentId}`);
  const queueId = idOf("work-queue", "work_queue_id");
  if (queueId && mentions("work_queue")) context.work_queue = await read(`/work_queues/${queueId}`);
  if (mentions("work_pool")) {
    const poolId = resourceIdOfKind(event, "work-pool");
    if (poolId) {
      const found = await api.request("POST", "/work_pools/filter", { work_pools: { id: { any_: [poolId] } } });
      context.work_pool = Array.isArray(found.body) ? (found.body[0] ?? null) : null;
    } else if (flowRun && typeof flowRun.work_pool_name === "string") {
      context.work_pool = await read(`/work_pools/${encodeURIComponent(flowRun.work_pool_name)}`);
    }
  }
  return context;
}

interface KindPlaceholder {
  __prefect_kind: string;
  template?: unknown;
  value?: unknown;
}

function isPlaceholder(value: unknown): value is KindPlaceholder {
  return !!value && typeof value === "object" && !Array.isArray(value) && typeof (value as KindPlaceholder).__prefect_kind === "string";
}

/**
 * A deployment's parameters with their templates rendered: Prefect's placeholders
 * `{"__prefect_kind": "jinja", "template": "..."}` (the rendered text) and
 * `{"__prefect_kind": "json", "value": "..."}` (the value parsed), and any string holding
 * `{{ }}` or `{% %}` rendered as a string.
 */
export function hydrateParameters(value: unknown, context: Record<string, unknown>, path: string): unknown {
  if (typeof value === "string") return isTemplated(value) ? renderTemplate(value, context) : value;
  if (Array.isArray(value)) return value.map((item, i) => hydrateParameters(item, context, `${path}.${i}`));
  if (isPlaceholder(value)) {
    if (value.__prefect_kind === "jinja") return renderTemplate(String(value.template ?? ""), context);
    if (value.__prefect_kind === "json") {
      try {
        return typeof value.value === "string" ? (JSON.parse(value.value) as unknown) : value.value;
      } catch {
        throw new InvalidInputError(path, "is not valid JSON");
      }
    }
    if (value.__prefect_kind === "none") return undefined;
  }
  if (value && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const hydrated = hydrateParameters(v, context, `${path}.${k}`);
      if (hydrated !== undefined) out[k] = hydrated;
    }
    return out;
  }
  return value;
}

/** Every template an action holds, with the field it is in (relative to the action). */
export function actionTemplates(action: Action): Array<[field: string, template: string]> {
  switch (action.type) {
    case "send-notification":
      return [
        ["subject", action.subject],
        ["body", action.body],
      ];
    case "call-webhook":
      return [["payload", action.payload]];
    case "change-flow-run-state":
      return [
        ...(action.name ? [["name", action.name] as [string, string]] : []),
        ...(action.message ? [["message", action.message] as [string, string]] : []),
      ];
    case "run-deployment":
      return parameterTemplates(action.parameters ?? {}, "parameters");
    default:
      return [];
  }
}

function parameterTemplates(value: unknown, path: string): Array<[string, string]> {
  if (typeof value === "string") return isTemplated(value) ? [[path, value]] : [];
  if (Array.isArray(value)) return value.flatMap((v, i) => parameterTemplates(v, `${path}.${i}`));
  if (isPlaceholder(value)) {
    if (value.__prefect_kind === "jinja") return [[`${path}.template`, String(value.template ?? "")]];
    if (value.__prefect_kind === "json" && typeof value.value === "string") {
      try {
        JSON.parse(value.value);
      } catch {
        throw new InvalidInputError(`${path}.value`, "is not valid JSON");
      }
    }
    return [];
  }
  if (value && typeof value === "object") return Object.entries(value).flatMap(([k, v]) => parameterTemplates(v, `${path}.${k}`));
  return [];
}

/** Refuses an automation whose templates do not compile, naming the field (`body.actions.0.body`). */
export function checkAutomationTemplates(automation: Pick<Automation, "actions" | "actions_on_trigger" | "actions_on_resolve">): void {
  for (const list of ["actions", "actions_on_trigger", "actions_on_resolve"] as const) {
    automation[list].forEach((action, index) => {
      for (const [field, template] of actionTemplates(action)) {
        const problem = validateTemplate(template);
        if (problem) {
          const where = problem.line ? ` (line ${problem.line}${problem.column ? `, column ${problem.column}` : ""})` : "";
          throw new InvalidInputError(`body.${list}.${index}.${field}`, `is not a valid template${where}: ${problem.message}`);
        }
      }
    });
  }
}
