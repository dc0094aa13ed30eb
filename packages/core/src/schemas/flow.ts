import { z } from "zod";
import { Id, Labels, Name, Tags } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";

export const Flow = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    name: z.string(),
    tags: z.array(z.string()),
    labels: Labels,
  }));
export type Flow = z.infer<typeof Flow>;

export const FlowCreate = lazySchema(() =>
  z.strictObject({
    name: Name,
    tags: Tags.default([]),
    labels: Labels.nullish(),
  }));
export type FlowCreate = z.infer<typeof FlowCreate>;

export const FlowUpdate = lazySchema(() =>
  z.strictObject({
    tags: Tags.optional(),
  }));
export type FlowUpdate = z.infer<typeof FlowUpdate>;
