import { RESOURCE_ID_LABEL, RESOURCE_ROLE_LABEL, type Action, type Automation, type ReceivedEvent } from "@baton/core";
import { newId } from "../db/json.js";
import type { Clock } from "../services/service.js";
import { failureReason, type ApiCaller, type ApiResponse } from "./api-caller.js";
import { automationResource, stateChangeEvent, triggeringEventRelated, type Firing } from "./firing.js";
import { resourceIdOfKind } from "./matching.js";
import { ActionFailed, notificationCall, send, webhookCall } from "./notifications.js";
import { hydrateParameters, templateContext } from "./template-context.js";
import { renderTemplate, TemplateError } from "./templates.js";

interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ActionExecutorOptions {
  api: ApiCaller;
  /** Where the automation's own events go (`prefect.automation.triggered`, `...action.executed`...). */
  publish(events: ReceivedEvent[]): unknown;
  clock: Clock;
  logger: Logger;
}

/** One action to take for a firing, as Prefect's `TriggeredAction`. */
interface TriggeredAction {
  id: string;
  automation: Automation;
  firing: Firing;
  action: Action;
  index: number;
  triggeringEvent: ReceivedEvent | null;
}

type Related = Array<Record<string, string>>;

/**
 * Takes an automation's actions when its trigger fires (`actions` and `actions_on_trigger`) or
 * resolves (`actions_on_resolve`). `act()` returns at once (the trigger
 * engine must not wait on deployments or webhooks); the actions of one firing run in order,
 * each reported by a `prefect.automation.action.executed` or `...action.failed` event naming
 * what it acted on, or why it failed.
 */
export class ActionExecutor {
  private readonly inflight = new Set<Promise<void>>();

  constructor(private readonly options: ActionExecutorOptions) {}

  act(automation: Automation, firing: Firing): Promise<void> {
    const now = this.options.clock.now();
    const triggered = firing.trigger_states.includes("Triggered") ? stateChangeEvent(automation, firing, "Triggered", now) : null;
    const resolved = firing.trigger_states.includes("Resolved") ? stateChangeEvent(automation, firing, "Resolved", now) : null;
    const sourced: Array<{ action: Action; triggeringEvent: ReceivedEvent | null }> = [];
    if (triggered) {
      // `actions` are what the automation does when it triggers; they see the event that triggered it.
      sourced.push(...automation.actions.map((action) => ({ action, triggeringEvent: firing.triggering_event })));
      // Actions "on trigger" (and "on resolve") see the automation's own state-change event as their triggering event.
      sourced.push(...automation.actions_on_trigger.map((action) => ({ action, triggeringEvent: triggered })));
    }
    if (resolved) sourced.push(...automation.actions_on_resolve.map((action) => ({ action, triggeringEvent: resolved })));
    const actions: TriggeredAction[] = sourced.map(({ action, triggeringEvent }, index) => ({ id: crypto.randomUUID(), automation, firing, action, index, triggeringEvent }));
    const stateEvents = [triggered, resolved].filter((event): event is ReceivedEvent => event !== null);
    const work = this.runAll(stateEvents, actions).catch((error: unknown) => this.options.logger.error({ err: error, automation: automation.id }, "automation actions failed"));
    this.inflight.add(work);
    void work.finally(() => this.inflight.delete(work));
    return Promise.resolve();
  }

  /** Waits until every action started so far has finished. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all([...this.inflight]);
  }

  private async runAll(stateEvents: ReceivedEvent[], actions: TriggeredAction[]): Promise<void> {
    // Published while the first action runs (not before it: on Redis that is a round trip);
    // awaited before any outcome is published, so the events keep their order.
    let announced: Promise<unknown> | undefined = Promise.resolve(this.options.publish([...stateEvents, ...actions.map((a) => this.actionEvent(a, "triggered", {}, []))])).catch(
      (error: unknown) => this.options.logger.error({ err: error, automation: stateEvents[0]?.resource["prefect.resource.id"] }, "could not publish an automation's state-change events"),
    );
    for (const action of actions) {
      let event: ReceivedEvent;
      try {
        const related = await this.run(action);
        event = this.actionEvent(action, "executed", {}, related);
      } catch (error) {
        const reason = error instanceof ActionFailed || error instanceof TemplateError ? error.message : `unexpected error: ${(error as Error).message}`;
        if (!(error instanceof ActionFailed || error instanceof TemplateError)) this.options.logger.error({ err: error, automation: action.automation.id }, "action failed");
        this.options.logger.warn({ automation: action.automation.id, action: action.action.type, reason }, "automation action failed");
        event = this.actionEvent(action, "failed", { reason }, []);
      }
      if (announced) await announced;
      announced = undefined;
      await this.options.publish([event]);
    }
    await announced;
  }

  private actionEvent(a: TriggeredAction, outcome: "triggered" | "executed" | "failed", extra: Record<string, unknown>, related: Related): ReceivedEvent {
    const now = this.options.clock.now().toISOString();
    return {
      id: newId(),
      occurred: now,
      received: now,
      event: `prefect.automation.action.${outcome}`,
      resource: automationResource(a.automation),
      related: [...triggeringEventRelated(a.triggeringEvent), ...related],
      payload: { action_index: a.index, action_type: a.action.type, invocation: a.id, ...extra },
      follows: null,
    };
  }

  private async call(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, body?: unknown): Promise<ApiResponse> {
    const response = await this.options.api.request(method, path, body);
    if (response.status >= 300) throw new ActionFailed(`${method} ${path}: ${failureReason(response)}`);
    return response;
  }

  /** Runs one action; returns the resources it acted on. */
  private async run(a: TriggeredAction): Promise<Related> {
    const { action } = a;
    switch (action.type) {
      case "do-nothing":
        return [];
      case "run-deployment": {
        const deploymentId = this.target(a, action.source, action.deployment_id, "deployment");
        const context = await templateContext(this.options.api, a.automation, a.firing, a.triggeringEvent, JSON.stringify(action.parameters ?? {}));
        const parameters = action.parameters == null ? undefined : hydrateParameters(action.parameters, context, "parameters");
        const scheduled = new Date(this.options.clock.now().getTime() + action.schedule_after * 1000).toISOString();
        const response = await this.call("POST", `/deployments/${deploymentId}/create_flow_run`, {
          ...(parameters === undefined ? {} : { parameters }),
          ...(action.job_variables ? { job_variables: action.job_variables } : {}),
          state: { type: "SCHEDULED", state_details: { scheduled_time: scheduled } },
          idempotency_key: `automation-${a.automation.id}-${a.firing.id}-${a.index}`,
        });
        const run = response.body as { id: string; name: string };
        return [
          { [RESOURCE_ID_LABEL]: `prefect.deployment.${deploymentId}`, [RESOURCE_ROLE_LABEL]: "target" },
          { [RESOURCE_ID_LABEL]: `prefect.flow-run.${run.id}`, [RESOURCE_ROLE_LABEL]: "flow-run", "prefect.resource.name": run.name },
        ];
      }
      case "pause-deployment":
      case "resume-deployment": {
        const id = this.target(a, action.source, action.deployment_id, "deployment");
        await this.call("POST", `/deployments/${id}/${action.type === "pause-deployment" ? "pause_deployment" : "resume_deployment"}`);
        return [{ [RESOURCE_ID_LABEL]: `prefect.deployment.${id}`, [RESOURCE_ROLE_LABEL]: "target" }];
      }
      case "pause-work-queue":
      case "resume-work-queue": {
        const id = this.target(a, action.source, action.work_queue_id, "work-queue");
        await this.call("PATCH", `/work_queues/${id}`, { is_paused: action.type === "pause-work-queue" });
        return [{ [RESOURCE_ID_LABEL]: `prefect.work-queue.${id}`, [RESOURCE_ROLE_LABEL]: "target" }];
      }
      case "pause-work-pool":
      case "resume-work-pool": {
        const id = this.target(a, action.source, action.work_pool_id, "work-pool");
        const found = await this.call("POST", "/work_pools/filter", { work_pools: { id: { any_: [id] } } });
        const pool = (found.body as Array<{ name: string }>)[0];
        if (!pool) throw new ActionFailed(`work pool ${id} not found`);
        await this.call("PATCH", `/work_pools/${encodeURIComponent(pool.name)}`, { is_paused: action.type === "pause-work-pool" });
        return [{ [RESOURCE_ID_LABEL]: `prefect.work-pool.${id}`, [RESOURCE_ROLE_LABEL]: "target", "prefect.resource.name": pool.name }];
      }
      case "pause-automation":
      case "resume-automation": {
        const id = this.target(a, action.source, action.automation_id, "automation");
        await this.call("PATCH", `/automations/${id}`, { enabled: action.type === "resume-automation" });
        return [{ [RESOURCE_ID_LABEL]: `prefect.automation.${id}`, [RESOURCE_ROLE_LABEL]: "target" }];
      }
      case "cancel-flow-run":
        return this.setFlowRunState(a, { type: "CANCELLING", message: `Cancelled by automation '${a.automation.name}'` }, false);
      case "suspend-flow-run":
        return this.setFlowRunState(a, { type: "PAUSED", name: "Suspended", state_details: { pause_reschedule: true } }, false);
      case "change-flow-run-state": {
        const context = await templateContext(this.options.api, a.automation, a.firing, a.triggeringEvent, `${action.name ?? ""}${action.message ?? ""}`);
        const render = (text: string | null | undefined) => (text == null ? text : renderTemplate(text, context));
        const state: Record<string, unknown> = { type: action.state };
        const name = render(action.name);
        const message = render(action.message);
        if (name) state.name = name;
        state.message = message ?? `State changed by automation '${a.automation.name}'`;
        return this.setFlowRunState(a, state, action.force);
      }
      case "resume-flow-run": {
        const id = this.flowRunId(a);
        const response = await this.call("POST", `/flow_runs/${id}/resume`, {});
        const result = response.body as { status?: string; details?: { reason?: string } };
        if (result.status && result.status !== "ACCEPT") throw new ActionFailed(`resume was ${result.status}: ${result.details?.reason ?? "no reason given"}`);
        return [{ [RESOURCE_ID_LABEL]: `prefect.flow-run.${id}`, [RESOURCE_ROLE_LABEL]: "target" }];
      }
      case "delete-flow-run": {
        const id = this.flowRunId(a);
        await this.call("DELETE", `/flow_runs/${id}`);
        return [{ [RESOURCE_ID_LABEL]: `prefect.flow-run.${id}`, [RESOURCE_ROLE_LABEL]: "target" }];
      }
      case "send-notification": {
        const block = await this.block(action.block_document_id);
        const context = await templateContext(this.options.api, a.automation, a.firing, a.triggeringEvent, action.subject + action.body);
        await send(notificationCall(block.type, block.data, renderTemplate(action.subject, context), renderTemplate(action.body, context)));
        return [{ [RESOURCE_ID_LABEL]: `prefect.block-document.${action.block_document_id}`, [RESOURCE_ROLE_LABEL]: "notification-block" }];
      }
      case "call-webhook": {
        const block = await this.block(action.block_document_id);
        const context = await templateContext(this.options.api, a.automation, a.firing, a.triggeringEvent, action.payload);
        await send(webhookCall(block.type, block.data, renderTemplate(action.payload, context)));
        return [{ [RESOURCE_ID_LABEL]: `prefect.block-document.${action.block_document_id}`, [RESOURCE_ROLE_LABEL]: "webhook-block" }];
      }
      default: {
        const never: never = action;
        throw new ActionFailed(`unknown action ${JSON.stringify(never)}`);
      }
    }
  }

  /** The object a sourced action acts on: the one selected, or the one the triggering event names. */
  private target(a: TriggeredAction, source: "selected" | "inferred", selected: string | null | undefined, kind: string): string {
    if (source === "selected") {
      if (!selected) throw new ActionFailed(`no ${kind} was selected`);
      return selected;
    }
    const inferred = resourceIdOfKind(a.triggeringEvent, kind);
    if (!inferred) throw new ActionFailed(`no ${kind} could be inferred from the triggering event`);
    return inferred;
  }

  private flowRunId(a: TriggeredAction): string {
    const id = resourceIdOfKind(a.triggeringEvent, "flow-run");
    if (!id) throw new ActionFailed("no flow run could be inferred from the triggering event");
    return id;
  }

  private async setFlowRunState(a: TriggeredAction, state: Record<string, unknown>, force: boolean): Promise<Related> {
    const id = this.flowRunId(a);
    const response = await this.call("POST", `/flow_runs/${id}/set_state`, { state, force });
    const result = response.body as { status?: string; details?: { reason?: string } };
    if (result.status !== "ACCEPT") throw new ActionFailed(`the state change was ${String(result.status)}: ${result.details?.reason ?? "no reason given"}`);
    return [{ [RESOURCE_ID_LABEL]: `prefect.flow-run.${id}`, [RESOURCE_ROLE_LABEL]: "target" }];
  }

  private async block(id: string): Promise<{ type: string; data: Record<string, unknown> }> {
    const response = await this.call("GET", `/block_documents/${id}?include_secrets=true`);
    const doc = response.body as { data?: Record<string, unknown>; block_type?: { slug?: string } };
    return { type: doc.block_type?.slug ?? "", data: doc.data ?? {} };
  }
}
