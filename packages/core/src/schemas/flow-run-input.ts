import { z } from "zod";
import { Id, JsonObject } from "../primitives.js";
import { lazySchema } from "../lazy-schema.js";

/** Largest input value stored, as JSON text. */
export const MAX_FLOW_RUN_INPUT_BYTES = 1_000_000;

/** An input key: letters, digits, dashes and underscores, as the SDKs build them (`paused-1-schema`). */
export const FlowRunInputKey = lazySchema(() =>
  z
    .string()
    .min(1, "must not be empty")
    .max(255)
    .regex(/^[A-Za-z0-9_-]+$/, "may contain only letters, digits, dashes and underscores"));

/**
 * A value a flow run asked for or was sent (`/flow_runs/{id}/input`): `value` is JSON text, as
 * Prefect's clients send it.
 */
export const FlowRunInput = lazySchema(() =>
  z.object({
    id: Id,
    created: z.string(),
    updated: z.string(),
    flow_run_id: Id,
    key: z.string(),
    value: z.string(),
    sender: z.string().nullable(),
  }));
export type FlowRunInput = z.infer<typeof FlowRunInput>;

export const FlowRunInputCreate = lazySchema(() =>
  z.strictObject({
    key: FlowRunInputKey,
    value: z
      .string()
      .max(MAX_FLOW_RUN_INPUT_BYTES, `must be at most ${MAX_FLOW_RUN_INPUT_BYTES} characters`)
      .refine(isJson, { message: "must be JSON text" }),
    sender: z.string().max(500).nullish(),
  }));
export type FlowRunInputCreate = z.infer<typeof FlowRunInputCreate>;

export const FlowRunInputFilterBody = lazySchema(() =>
  z.strictObject({
    prefix: z.string().max(255),
    limit: z.number().int().min(1).max(200).default(1),
    exclude_keys: z.array(z.string()).max(1000).default([]),
  }));

export const FlowRunResumeBody = lazySchema(() => z.strictObject({ run_input: JsonObject.nullish() }));

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
