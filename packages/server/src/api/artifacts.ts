import {
  Artifact,
  ArtifactCollection,
  ArtifactCollectionCountBody,
  ArtifactCollectionFilterBody,
  ArtifactCountBody,
  ArtifactCreate,
  ArtifactFilterBody,
  ArtifactUpdate,
  ObjectNotFoundError,
} from "@baton/core";
import { z } from "zod";
import {
  countArtifactCollections,
  countArtifacts,
  createArtifact,
  deleteArtifact,
  filterArtifactCollections,
  filterArtifacts,
  readArtifact,
  readLatestArtifact,
  updateArtifact,
} from "../db/queries/artifacts.js";
import type { ApiContext } from "./context.js";
import { IdParams } from "./params.js";

/** `/api/artifacts/...`: what runs publish (tables, markdown, links, progress, images), with versions per key. */
export function registerArtifactRoutes({ router, db }: ApiContext): void {
  const tag = "Artifacts";
  router.route({
    method: "POST",
    path: "/artifacts/",
    tag,
    summary: "Create an artifact; with a key it becomes that key's latest version",
    body: ArtifactCreate,
    response: Artifact,
    status: 201,
    handler: ({ body }) => createArtifact(db, body),
  });
  router.route({
    method: "GET",
    path: "/artifacts/{id}",
    tag,
    summary: "Read an artifact",
    params: IdParams,
    response: Artifact,
    handler: async ({ params }) => (await readArtifact(db.kysely, params.id)) ?? notFound(params.id),
  });
  router.route({
    method: "GET",
    path: "/artifacts/{key}/latest",
    tag,
    summary: "Read the latest artifact of a key",
    params: z.object({ key: z.string().min(1) }),
    response: Artifact,
    handler: async ({ params }) => (await readLatestArtifact(db.kysely, params.key)) ?? notFound(params.key),
  });
  router.route({
    method: "PATCH",
    path: "/artifacts/{id}",
    tag,
    summary: "Update an artifact's data, description or metadata",
    params: IdParams,
    body: ArtifactUpdate,
    status: 204,
    handler: async ({ params, body }) => {
      if (!(await updateArtifact(db, params.id, body))) notFound(params.id);
    },
  });
  router.route({
    method: "DELETE",
    path: "/artifacts/{id}",
    tag,
    summary: "Delete an artifact; the previous version of its key becomes the latest",
    params: IdParams,
    status: 204,
    handler: async ({ params }) => {
      if (!(await deleteArtifact(db, params.id))) notFound(params.id);
    },
  });
  router.route({
    method: "POST",
    path: "/artifacts/filter",
    tag,
    summary: "Query artifacts (every version)",
    body: ArtifactFilterBody,
    response: z.array(Artifact),
    handler: ({ body }) => filterArtifacts(db, body.artifacts, body, body),
  });
  router.route({
    method: "POST",
    path: "/artifacts/count",
    tag,
    summary: "Count artifacts (every version)",
    body: ArtifactCountBody,
    response: z.number().int(),
    handler: ({ body }) => countArtifacts(db, body.artifacts, body),
  });
  router.route({
    method: "POST",
    path: "/artifacts/latest/filter",
    tag,
    summary: "Query the latest artifact of each key",
    body: ArtifactCollectionFilterBody,
    response: z.array(ArtifactCollection),
    handler: ({ body }) => filterArtifactCollections(db, body.artifacts, body, body),
  });
  router.route({
    method: "POST",
    path: "/artifacts/latest/count",
    tag,
    summary: "Count artifact keys",
    body: ArtifactCollectionCountBody,
    response: z.number().int(),
    handler: ({ body }) => countArtifactCollections(db, body.artifacts, body),
  });
}

function notFound(id: string): never {
  throw new ObjectNotFoundError("Artifact", id);
}
