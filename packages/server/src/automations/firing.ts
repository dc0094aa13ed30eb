import { RESOURCE_ID_LABEL, type Automation, type ReceivedEvent, type Trigger } from "@baton/core";
import { newId } from "../db/json.js";

export type TriggerState = "Triggered" | "Resolved";

/** One firing of a trigger, as Prefect's `Firing` (and as templates see it: `{{ firing.triggered }}`). */
export interface Firing {
  id: string;
  trigger_id: string;
  trigger_type: Trigger["type"];
  trigger_states: TriggerState[];
  /** When it fired, ISO 8601. */
  triggered: string;
  triggering_labels: Record<string, string>;
  /** The child firings that made a compound or sequence trigger fire. */
  triggering_firings: Firing[];
  triggering_event: ReceivedEvent | null;
}

/** A firing of `trigger` at `triggered`: Triggered unless `trigger_states` says otherwise (a resolution is `["Resolved"]`). */
export function newFiring(
  trigger: Trigger,
  triggered: Date,
  fields: Partial<Pick<Firing, "trigger_states" | "triggering_labels" | "triggering_firings" | "triggering_event">>,
): Firing {
  return {
    id: crypto.randomUUID(),
    trigger_id: trigger.id,
    trigger_type: trigger.type,
    trigger_states: fields.trigger_states ?? ["Triggered"],
    triggered: triggered.toISOString(),
    triggering_labels: fields.triggering_labels ?? {},
    triggering_firings: fields.triggering_firings ?? [],
    triggering_event: fields.triggering_event ?? null,
  };
}

/** The resource of an automation's own events (`prefect.automation.<id>`). */
export function automationResource(automation: Automation): Record<string, string> {
  const resource: Record<string, string> = {
    [RESOURCE_ID_LABEL]: `prefect.automation.${automation.id}`,
    "prefect.resource.name": automation.name,
    "prefect.trigger-type": automation.trigger.type,
  };
  if (automation.trigger.type === "event") resource["prefect.posture"] = automation.trigger.posture;
  return resource;
}

export function triggeringEventRelated(event: ReceivedEvent | null): Array<Record<string, string>> {
  return event ? [{ [RESOURCE_ID_LABEL]: `prefect.event.${event.id}`, "prefect.resource.role": "triggering-event" }] : [];
}

/** `prefect.automation.triggered` (or `.resolved`), published when an automation's trigger fires (or resolves). */
export function stateChangeEvent(automation: Automation, firing: Firing, state: TriggerState, received: Date): ReceivedEvent {
  return {
    id: newId(),
    occurred: firing.triggered,
    received: received.toISOString(),
    event: `prefect.automation.${state.toLowerCase()}`,
    resource: automationResource(automation),
    related: triggeringEventRelated(firing.triggering_event),
    payload: { triggering_labels: firing.triggering_labels, triggering_event: firing.triggering_event },
    follows: null,
  };
}
