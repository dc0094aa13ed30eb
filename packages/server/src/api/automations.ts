import {
  Automation,
  AutomationCountBody,
  AutomationCreate,
  AutomationFilterBody,
  AutomationPartialUpdate,
  AutomationUpdate,
  InvalidInputError,
  ObjectNotFoundError,
} from "@baton/core";
import { z } from "zod";
import { notifyAutomationsChanged } from "../automations/changes.js";
import { checkAutomationTemplates } from "../automations/template-context.js";
import { validateTemplate } from "../automations/templates.js";
import {
  automationsRelatedTo,
  countAutomations,
  createAutomation,
  deleteAutomation,
  deleteAutomationsOwnedBy,
  duplicateTriggerId,
  filterAutomations,
  readAutomation,
  replaceAutomation,
  setAutomationEnabled,
} from "../db/queries/automations.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

const ResourceParams = z.object({ resource_id: z.string().min(1).max(1024) });

function checkAutomation(input: AutomationUpdate): void {
  const duplicate = duplicateTriggerId(input.trigger);
  if (duplicate) throw new InvalidInputError("body.trigger", `two triggers share the id ${duplicate}`);
  checkAutomationTemplates(input);
}

/** `/api/automations/...` and `/api/templates/validate`: automations as Prefect's (triggers, actions, templates). */
export function registerAutomationRoutes({ router, db }: ApiContext): void {
  const tag = "Automations";
  router.route({
    method: "POST",
    path: "/automations/",
    tag,
    summary: "Create an automation: a trigger and the actions to take when it fires",
    body: AutomationCreate,
    response: Automation,
    status: 201,
    handler: async ({ body }) => {
      checkAutomation(body);
      const automation = await createAutomation(db, body);
      notifyAutomationsChanged();
      return automation;
    },
  });
  router.route({
    method: "GET",
    path: "/automations/{id}",
    tag,
    summary: "Read an automation",
    params: IdParams,
    response: Automation,
    handler: async ({ params }) => (await readAutomation(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "PUT",
    path: "/automations/{id}",
    tag,
    summary: "Replace an automation; its trigger starts afresh",
    params: IdParams,
    body: AutomationUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      checkAutomation(body);
      if (!(await replaceAutomation(db, params.id, body))) notFound(params.id);
      notifyAutomationsChanged();
    },
  });
  router.route({
    method: "PATCH",
    path: "/automations/{id}",
    tag,
    summary: "Enable or disable an automation",
    params: IdParams,
    body: AutomationPartialUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await setAutomationEnabled(db, params.id, body.enabled))) notFound(params.id);
      notifyAutomationsChanged();
    },
  });
  router.route({
    method: "DELETE",
    path: "/automations/{id}",
    tag,
    summary: "Delete an automation and its trigger state",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteAutomation(db, params.id))) notFound(params.id);
      notifyAutomationsChanged();
    },
  });
  router.route({
    method: "POST",
    path: "/automations/filter",
    tag,
    summary: "Query automations (by name, tags, creation time)",
    body: AutomationFilterBody,
    response: z.array(Automation),
    handler: ({ body }) => filterAutomations(db, body.automations, body),
  });
  router.route({
    method: "POST",
    path: "/automations/count",
    tag,
    summary: "Count automations",
    body: AutomationCountBody,
    response: z.number().int(),
    handler: ({ body }) => countAutomations(db, body.automations),
  });
  router.route({
    method: "GET",
    path: "/automations/related-to/{resource_id}",
    tag,
    summary: "The automations whose actions name a resource (`prefect.deployment.<id>`) or that it owns",
    params: ResourceParams,
    response: z.array(Automation),
    handler: ({ params }) => automationsRelatedTo(db.kysely, params.resource_id),
  });
  router.route({
    method: "DELETE",
    path: "/automations/owned-by/{resource_id}",
    tag,
    summary: "Delete the automations a resource owns (`owner_resource`)",
    params: ResourceParams,
    status: 202,
    handler: async ({ params }) => {
      const deleted = await deleteAutomationsOwnedBy(db, params.resource_id);
      if (deleted.length > 0) notifyAutomationsChanged();
      return null;
    },
  });
  for (const path of ["/templates/validate", "/automations/templates/validate"]) {
    router.route({
      method: "POST",
      path,
      tag,
      summary: "Check that a template (a JSON string) compiles; a 422 says where it does not",
      body: z.unknown(),
      handler: ({ request, reply }) => {
        const template = request.body ?? "";
        if (typeof template !== "string") throw new InvalidInputError("body", "must be the template, as a JSON string");
        const problem = validateTemplate(template);
        if (!problem) return reply.code(200).send();
        const where = problem.line ? ` (line ${problem.line}${problem.column ? `, column ${problem.column}` : ""})` : "";
        return reply.code(422).send({
          error: { line: problem.line, message: problem.message, source: template },
          exception_message: `Invalid request: body: is not a valid template${where}: ${problem.message}`,
          exception_detail: [{ loc: ["body"], msg: problem.message, type: "template_error" }],
        });
      },
    });
  }
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Automation", id);
}
