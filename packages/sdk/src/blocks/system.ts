import { DateTime, SYSTEM_BLOCKS, z } from "@baton/core";
import type { ZodType } from "zod";
import { defineBlock, type SaveOptions } from "./block.js";

/** A system block holds one `value`; these load and save the value itself. */
export interface ValueBlock<T> {
  readonly slug: string;
  load(name: string): Promise<T>;
  save(name: string, value: T, options?: SaveOptions): Promise<string>;
  delete(name: string): Promise<void>;
}

function valueBlock<T>(slug: string, value: ZodType<T>): ValueBlock<T> {
  const system = SYSTEM_BLOCKS.find((b) => b.slug === slug)!;
  const block = defineBlock({
    type: slug,
    name: system.name,
    description: system.description,
    fields: z.object({ value }),
    secretFields: slug === "secret" ? ["value"] : [],
    // The very fields the server installs, so the checksum finds the installed schema.
    jsonSchema: system.fields,
  });
  return {
    slug,
    load: async (name) => (await block.load(name)).value as T,
    save: (name, v, options) => block.save(name, { value: v } as { value: T }, options),
    delete: (name) => block.delete(name),
  };
}

/**
 * The server's system blocks.
 *
 * @example
 * await Secret.save("api-token", "tok-123", { overwrite: true });
 * const token = await Secret.load("api-token"); // "tok-123"
 */
export const Secret: ValueBlock<string> = valueBlock("secret", z.string());
export const JSONBlock: ValueBlock<unknown> = valueBlock("json", z.unknown());
export const StringBlock: ValueBlock<string> = valueBlock("string", z.string());
/** Saves and loads an ISO 8601 date-time (normalised to UTC). */
export const DateTimeBlock: ValueBlock<string> = valueBlock("date-time", DateTime);
