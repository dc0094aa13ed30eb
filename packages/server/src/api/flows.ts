import {
  Flow,
  FlowBulkDeleteBody,
  FlowCountBody,
  FlowCreate,
  FlowFilterBody,
  FlowPaginateBody,
  FlowUpdate,
  ObjectNotFoundError,
} from "@baton/core";
import { z } from "zod";
import { countFlows, createFlow, deleteFlow, deleteFlows, filterFlows, readFlow, readFlowByName, updateFlow } from "../db/queries/flows.js";
import type { ApiContext } from "./context.js";
import { registerQueryRoutes } from "./query-routes.js";
import { IdParams } from "./params.js";

export function registerFlowRoutes({ router, db }: ApiContext): void {
  router.route({
    method: "POST",
    path: "/flows/",
    tag: "Flows",
    summary: "Create a flow; an existing name returns the existing flow (200)",
    body: FlowCreate,
    response: Flow,
    status: 201,
    handler: async ({ body, reply }) => {
      const { flow, created } = await createFlow(db, body);
      if (!created) reply.code(200);
      return flow;
    },
  });
  router.route({
    method: "GET",
    path: "/flows/{id}",
    tag: "Flows",
    summary: "Read a flow",
    params: IdParams,
    response: Flow,
    handler: async ({ params }) => (await readFlow(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "GET",
    path: "/flows/name/{name}",
    tag: "Flows",
    summary: "Read a flow by name",
    params: z.object({ name: z.string().min(1) }),
    response: Flow,
    handler: async ({ params }) => (await readFlowByName(db.kysely, params.name)) ?? notFound(params.name),
  });
  router.route({
    method: "PATCH",
    path: "/flows/{id}",
    tag: "Flows",
    summary: "Update a flow",
    params: IdParams,
    body: FlowUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await updateFlow(db.kysely, params.id, body))) notFound(params.id);
    },
  });
  router.route({
    method: "DELETE",
    path: "/flows/{id}",
    tag: "Flows",
    summary: "Delete a flow with its runs and deployments",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteFlow(db.kysely, params.id))) notFound(params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/flows/bulk_delete",
    tag: "Flows",
    summary: "Delete the flows matching a filter (at most `limit`) with their runs and deployments",
    body: FlowBulkDeleteBody,
    response: z.object({ deleted: z.array(z.string()) }),
    handler: async ({ body }) => ({ deleted: await deleteFlows(db, { flows: body.flows }, body.limit) }),
  });
  registerQueryRoutes(router, {
    base: "/flows",
    tag: "Flows",
    noun: "flows",
    item: Flow,
    filterBody: FlowFilterBody,
    countBody: FlowCountBody,
    paginateBody: FlowPaginateBody,
    filter: (criteria, page) => filterFlows(db, criteria, page),
    count: (criteria) => countFlows(db, criteria),
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Flow", id);
}
