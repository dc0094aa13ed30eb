import { ObjectNotFoundError, Variable, VariableCountBody, VariableCreate, VariableFilterBody, VariableUpdate } from "@baton/core";
import { z } from "zod";
import {
  countVariables,
  createVariable,
  deleteVariable,
  filterVariables,
  readVariable,
  readVariableByName,
  updateVariable,
} from "../db/queries/variables.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

const NameParams = z.object({ name: z.string().min(1) });

/** `/api/variables/...`: named JSON values, by id and by name, as Prefect's variables. */
export function registerVariableRoutes({ router, db }: ApiContext): void {
  const tag = "Variables";
  router.route({
    method: "POST",
    path: "/variables/",
    tag,
    summary: "Create a variable; a name already taken is a 409",
    body: VariableCreate,
    response: Variable,
    status: 201,
    handler: ({ body }) => createVariable(db.kysely, body),
  });
  router.route({
    method: "GET",
    path: "/variables/{id}",
    tag,
    summary: "Read a variable",
    params: IdParams,
    response: Variable,
    handler: async ({ params }) => (await readVariable(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "PATCH",
    path: "/variables/{id}",
    tag,
    summary: "Update a variable's name, value or tags",
    params: IdParams,
    body: VariableUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await updateVariable(db.kysely, { id: params.id }, body))) notFound(params.id);
    },
  });
  router.route({
    method: "DELETE",
    path: "/variables/{id}",
    tag,
    summary: "Delete a variable",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteVariable(db.kysely, { id: params.id }))) notFound(params.id);
    },
  });
  router.route({
    method: "GET",
    path: "/variables/name/{name}",
    tag,
    summary: "Read a variable by name",
    params: NameParams,
    response: Variable,
    handler: async ({ params }) => (await readVariableByName(db.kysely, params.name)) ?? notFound(params.name),
  });
  router.route({
    method: "PATCH",
    path: "/variables/name/{name}",
    tag,
    summary: "Update a variable found by name",
    params: NameParams,
    body: VariableUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await updateVariable(db.kysely, { name: params.name }, body))) notFound(params.name);
    },
  });
  router.route({
    method: "DELETE",
    path: "/variables/name/{name}",
    tag,
    summary: "Delete a variable found by name",
    params: NameParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteVariable(db.kysely, { name: params.name }))) notFound(params.name);
    },
  });
  router.route({
    method: "POST",
    path: "/variables/filter",
    tag,
    summary: "Query variables",
    body: VariableFilterBody,
    response: z.array(Variable),
    handler: ({ body }) => filterVariables(db, body.variables, body),
  });
  router.route({
    method: "POST",
    path: "/variables/count",
    tag,
    summary: "Count variables",
    body: VariableCountBody,
    response: z.number().int(),
    handler: ({ body }) => countVariables(db, body.variables),
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Variable", id);
}
