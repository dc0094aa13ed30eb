import { z } from "zod";
import { DateTime, Id, JsonObject } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";
import { StateType } from "../states.js";
import { ResourceSpecification } from "./event.js";

/**
 * Automations as Prefect's REST API v3 describes them (`AutomationCore`, `EventTrigger`,
 * `CompoundTrigger`, `SequenceTrigger` and the action types): a trigger that watches events,
 * and actions to take when it fires.
 */

/** Proactive triggers need a window of at least this many seconds (Prefect's rule). */
export const MIN_PROACTIVE_WITHIN_SECONDS = 10;

const uniqueStrings = (what: string) =>
  z
    .array(z.string().min(1).max(1024))
    .max(100)
    .refine((list) => new Set(list).size === list.length, { message: `${what} must not repeat an entry` })
    .default([]);

export const Posture = lazySchema(() => z.enum(["Reactive", "Proactive"]));
export type Posture = z.infer<typeof Posture>;

export const EventTrigger = lazySchema(() =>
  z
    .strictObject({
      type: z.literal("event").default("event"),
      id: Id.default(() => crypto.randomUUID()),
      match: ResourceSpecification.default({}),
      match_related: z.union([ResourceSpecification, z.array(ResourceSpecification).max(50)]).default({}),
      after: uniqueStrings("after"),
      expect: uniqueStrings("expect"),
      for_each: uniqueStrings("for_each"),
      posture: Posture,
      threshold: z.number().int().min(0).default(1),
      within: z.number().min(0, "must not be negative").max(365 * 86400).default(0),
    })
    .transform((trigger, ctx) => {
      if (trigger.posture !== "Proactive") return trigger;
      // As Prefect: a proactive trigger without a window watches 10 s; a shorter one is refused.
      if (trigger.within === 0) return { ...trigger, within: MIN_PROACTIVE_WITHIN_SECONDS };
      if (trigger.within < MIN_PROACTIVE_WITHIN_SECONDS) {
        ctx.addIssue({ code: "custom", path: ["within"], message: `must be at least ${MIN_PROACTIVE_WITHIN_SECONDS} seconds for a Proactive trigger` });
      }
      return trigger;
    }));
export type EventTrigger = z.output<typeof EventTrigger>;

export interface CompoundTrigger {
  type: "compound";
  id: string;
  triggers: Trigger[];
  within: number | null;
  require: number | "any" | "all";
}
export interface SequenceTrigger {
  type: "sequence";
  id: string;
  triggers: Trigger[];
  within: number | null;
}
export type Trigger = EventTrigger | CompoundTrigger | SequenceTrigger;
export type CompositeTrigger = CompoundTrigger | SequenceTrigger;

const childTriggers = () => z.array(z.lazy((): z.ZodType<Trigger> => Trigger as z.ZodType<Trigger>)).min(1, "needs at least one trigger").max(50);

export const CompoundTrigger = lazySchema(() =>
  z
    .strictObject({
      type: z.literal("compound"),
      id: Id.default(() => crypto.randomUUID()),
      triggers: childTriggers(),
      within: z.number().min(0).nullable(),
      require: z.union([z.number().int().min(1, "must be at least 1"), z.enum(["any", "all"])]),
    })
    .superRefine((t, ctx) => {
      if (typeof t.require === "number" && t.require > t.triggers.length) {
        ctx.addIssue({ code: "custom", path: ["require"], message: "must be less than or equal to the number of triggers" });
      }
    }));

export const SequenceTrigger = lazySchema(() =>
  z.strictObject({
    type: z.literal("sequence"),
    id: Id.default(() => crypto.randomUUID()),
    triggers: childTriggers(),
    within: z.number().min(0).nullable(),
  }));

const TRIGGER_TYPES = ["event", "compound", "sequence"] as const;

/** Any trigger; one without `type` is an event trigger (its type's default). */
export const Trigger = lazySchema(() =>
  z.preprocess(
    (value) => (value && typeof value === "object" && !Array.isArray(value) && !("type" in value) ? { ...value, type: "event" } : value),
    z.discriminatedUnion("type", [EventTrigger, CompoundTrigger, SequenceTrigger], {
      error: (issue) => (issue.code === "invalid_union" ? `unknown trigger type; expected one of ${TRIGGER_TYPES.join(", ")}` : undefined),
    }),
  ) as unknown as z.ZodType<Trigger, unknown>);

// ---- Actions -------------------------------------------------------------------------

const Source = lazySchema(() => z.enum(["selected", "inferred"]).default("selected"));

/** An action that acts on a selected object (by id) or on one inferred from the triggering event. */
function sourced<T extends string, K extends string>(type: T, idField: K) {
  return z
    .strictObject({ type: z.literal(type), source: Source, [idField]: Id.nullish() } as { type: z.ZodLiteral<T>; source: typeof Source } & Record<K, z.ZodOptional<z.ZodNullable<typeof Id>>>)
    .superRefine((value, ctx) => {
      const action = value as Record<string, unknown>;
      const id = action[idField];
      if (action.source === "selected" && !id) ctx.addIssue({ code: "custom", path: [idField], message: `is required when source is 'selected'` });
      if (action.source === "inferred" && id) ctx.addIssue({ code: "custom", path: [idField], message: `must not be set when source is 'inferred'` });
    });
}

export const DoNothing = lazySchema(() => z.strictObject({ type: z.literal("do-nothing") }));
export const RunDeployment = lazySchema(() =>
  z
    .strictObject({
      type: z.literal("run-deployment"),
      source: Source,
      deployment_id: Id.nullish(),
      parameters: JsonObject.nullish(),
      job_variables: JsonObject.nullish(),
      schedule_after: z.number().min(0).default(0),
    })
    .superRefine((action, ctx) => {
      if (action.source === "selected" && !action.deployment_id) ctx.addIssue({ code: "custom", path: ["deployment_id"], message: "is required when source is 'selected'" });
      if (action.source === "inferred" && action.deployment_id) ctx.addIssue({ code: "custom", path: ["deployment_id"], message: "must not be set when source is 'inferred'" });
    }));
export const PauseDeployment = lazySchema(() => sourced("pause-deployment", "deployment_id"));
export const ResumeDeployment = lazySchema(() => sourced("resume-deployment", "deployment_id"));
export const PauseWorkQueue = lazySchema(() => sourced("pause-work-queue", "work_queue_id"));
export const ResumeWorkQueue = lazySchema(() => sourced("resume-work-queue", "work_queue_id"));
export const PauseWorkPool = lazySchema(() => sourced("pause-work-pool", "work_pool_id"));
export const ResumeWorkPool = lazySchema(() => sourced("resume-work-pool", "work_pool_id"));
export const PauseAutomation = lazySchema(() => sourced("pause-automation", "automation_id"));
export const ResumeAutomation = lazySchema(() => sourced("resume-automation", "automation_id"));
export const CancelFlowRun = lazySchema(() => z.strictObject({ type: z.literal("cancel-flow-run") }));
export const DeleteFlowRun = lazySchema(() => z.strictObject({ type: z.literal("delete-flow-run") }));
export const SuspendFlowRun = lazySchema(() => z.strictObject({ type: z.literal("suspend-flow-run") }));
export const ResumeFlowRun = lazySchema(() => z.strictObject({ type: z.literal("resume-flow-run") }));
export const ChangeFlowRunState = lazySchema(() =>
  z.strictObject({
    type: z.literal("change-flow-run-state"),
    name: z.string().max(500).nullish(),
    state: StateType,
    message: z.string().max(10_000).nullish(),
    force: z.boolean().default(false),
  }));
export const SendNotification = lazySchema(() =>
  z.strictObject({
    type: z.literal("send-notification"),
    block_document_id: Id,
    subject: z.string().max(10_000).default("Prefect automated notification"),
    body: z.string().max(100_000),
  }));
export const CallWebhook = lazySchema(() =>
  z.strictObject({
    type: z.literal("call-webhook"),
    block_document_id: Id,
    payload: z.string().max(100_000).default(""),
  }));

export const ACTION_TYPES = [
  "do-nothing",
  "run-deployment",
  "pause-deployment",
  "resume-deployment",
  "cancel-flow-run",
  "delete-flow-run",
  "change-flow-run-state",
  "pause-work-queue",
  "resume-work-queue",
  "send-notification",
  "call-webhook",
  "pause-automation",
  "resume-automation",
  "suspend-flow-run",
  "resume-flow-run",
  "pause-work-pool",
  "resume-work-pool",
] as const;
export type ActionType = (typeof ACTION_TYPES)[number];

export const Action = lazySchema(() =>
  z.discriminatedUnion(
    "type",
    [
      DoNothing,
      RunDeployment,
      PauseDeployment,
      ResumeDeployment,
      CancelFlowRun,
      DeleteFlowRun,
      ChangeFlowRunState,
      PauseWorkQueue,
      ResumeWorkQueue,
      SendNotification,
      CallWebhook,
      PauseAutomation,
      ResumeAutomation,
      SuspendFlowRun,
      ResumeFlowRun,
      PauseWorkPool,
      ResumeWorkPool,
    ],
    { error: (issue) => (issue.code === "invalid_union" ? `unknown action type; expected one of ${ACTION_TYPES.join(", ")}` : undefined) },
  ));
export type Action = z.output<typeof Action>;

// ---- Automations ---------------------------------------------------------------------

const actionList = () => z.array(Action).max(100);

function automationFields() {
  return {
    name: z.string().min(1, "must not be empty").max(500),
    description: z.string().max(10_000).default(""),
    enabled: z.boolean().default(true),
    tags: z.array(z.string().max(500)).max(200).default([]),
    trigger: Trigger,
    actions: actionList(),
    actions_on_trigger: actionList().default([]),
    actions_on_resolve: actionList().default([]),
  };
}

export const AutomationCreate = lazySchema(() => z.strictObject({ ...automationFields(), owner_resource: z.string().max(1024).nullish() }));
export type AutomationCreate = z.output<typeof AutomationCreate>;
export type AutomationCreateInput = z.input<typeof AutomationCreate>;

export const AutomationUpdate = lazySchema(() => z.strictObject(automationFields()));
export type AutomationUpdate = z.output<typeof AutomationUpdate>;

export const AutomationPartialUpdate = lazySchema(() => z.strictObject({ enabled: z.boolean().default(true) }));
export type AutomationPartialUpdate = z.output<typeof AutomationPartialUpdate>;

/** An automation as the server returns it. Triggers and actions are read back as stored, so no defaults apply. */
export const Automation = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string().nullable(),
    updated: z.string().nullable(),
    name: z.string(),
    description: z.string(),
    enabled: z.boolean(),
    tags: z.array(z.string()),
    trigger: z.unknown(),
    actions: z.array(z.unknown()),
    actions_on_trigger: z.array(z.unknown()),
    actions_on_resolve: z.array(z.unknown()),
    owner_resource: z.string().nullable().optional(),
  }));
export interface Automation {
  id: string;
  created: string | null;
  updated: string | null;
  name: string;
  description: string;
  enabled: boolean;
  tags: string[];
  trigger: Trigger;
  actions: Action[];
  actions_on_trigger: Action[];
  actions_on_resolve: Action[];
  owner_resource?: string | null;
}

export const AutomationFilter = lazySchema(() =>
  z.strictObject({
    operator: z.enum(["and_", "or_"]).default("and_"),
    name: z.strictObject({ any_: z.array(z.string()).max(1000).nullish() }).nullish(),
    created: z.strictObject({ before_: DateTime.nullish() }).nullish(),
    tags: z
      .strictObject({
        operator: z.enum(["and_", "or_"]).default("and_"),
        all_: z.array(z.string()).max(1000).nullish(),
        any_: z.array(z.string()).max(1000).nullish(),
        is_null_: z.boolean().nullish(),
      })
      .nullish(),
  }));
export type AutomationFilter = z.output<typeof AutomationFilter>;

export const AutomationSort = lazySchema(() => z.enum(["CREATED_DESC", "UPDATED_DESC", "NAME_ASC", "NAME_DESC"]));
export type AutomationSort = z.infer<typeof AutomationSort>;

export const AutomationFilterBody = lazySchema(() =>
  z.strictObject({
    sort: AutomationSort.default("NAME_ASC"),
    offset: z.number().int().min(0).default(0),
    limit: z.number().int().min(0).max(200).nullish(),
    automations: AutomationFilter.nullish(),
  }));
export const AutomationCountBody = lazySchema(() => z.strictObject({ automations: AutomationFilter.nullish() }));

/** Every trigger in a tree, parents before children. */
export function allTriggers(trigger: Trigger): Trigger[] {
  if (trigger.type === "event") return [trigger];
  return [trigger, ...trigger.triggers.flatMap(allTriggers)];
}
