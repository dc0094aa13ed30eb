import type { ConcurrencyLimitV2, TagConcurrencyLimit } from "@baton/core";
import { InvalidArgumentError, type Command } from "commander";
import { readPages } from "../api.js";
import { parseId, parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { orNotFound, UsageError } from "../errors.js";
import { formatDetails, formatTable, formatTimestamp, NONE, writeJson } from "../output.js";

/** `--limit N` of a concurrency limit: a whole number, 0 or more (0 lets nothing run). */
function parseSlotCount(value: string): number {
  const n = /^\d+$/.test(value.trim()) ? Number(value) : NaN;
  if (!Number.isSafeInteger(n) || n > 2147483647) throw new InvalidArgumentError("Expected a whole number of slots, 0 or more.");
  return n;
}

/** `--slot-decay-per-second X`: a number, 0 or more. */
function parseDecay(value: string): number {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError("Expected a number of slots per second, 0 or more.");
  return n;
}

const gclPath = (name: string) => `/v2/concurrency_limits/${encodeURIComponent(name)}`;

/** `baton gcl ...` (also `baton global-concurrency-limit`): global concurrency and rate limits. */
export function configureGlobalConcurrencyLimitCommand(program: Command, ctx: CliContext): void {
  const gcl = program
    .command("global-concurrency-limit")
    .alias("gcl")
    .description("Manage global concurrency limits (and rate limits), taken by concurrency() and rateLimit() in flows");

  gcl
    .command("create")
    .description("Create a global concurrency limit; with --slot-decay-per-second it is a rate limit")
    .argument("<name>", "limit name")
    .requiredOption("--limit <n>", "slots that may be held at once", parseSlotCount)
    .option("--slot-decay-per-second <rate>", "slots given back per second on their own (a rate limit)", parseDecay, 0)
    .option("--active-slots <n>", "slots taken from the start", parseSlotCount, 0)
    .option("--disable", "create it inactive (it limits nothing until enabled)")
    .option("--json", "print the API object as JSON")
    .action(async (name: string, options: { limit: number; slotDecayPerSecond: number; activeSlots: number; disable?: boolean; json?: boolean }) => {
      const created = await ctx.client().request<ConcurrencyLimitV2>("POST", "/v2/concurrency_limits/", {
        name,
        limit: options.limit,
        slot_decay_per_second: options.slotDecayPerSecond,
        active_slots: options.activeSlots,
        active: !options.disable,
      });
      if (options.json) return writeJson(ctx.stdout, created);
      const kind = created.slot_decay_per_second > 0 ? `rate limit of ${created.limit} (decay ${created.slot_decay_per_second}/s)` : `limit of ${created.limit}`;
      ctx.stdout.write(`Created global concurrency limit '${created.name}' with a ${kind} (${created.id}).\n`);
    });

  gcl
    .command("ls")
    .description("List global concurrency limits with their slots in use")
    .option("--limit <n>", "most limits to list", parseLimit, 100)
    .option("--json", "print the API objects as JSON")
    .action(async (options: { limit: number; json?: boolean }) => {
      const client = ctx.client();
      const items = await readPages<ConcurrencyLimitV2>(options.limit, (offset, limit) => client.request("POST", "/v2/concurrency_limits/filter", { offset, limit }));
      if (options.json) return writeJson(ctx.stdout, items);
      if (items.length === 0) return void ctx.stdout.write("No global concurrency limits found.\n");
      ctx.stdout.write(
        formatTable(
          ["NAME", "ACTIVE", "LIMIT", "IN USE", "DENIED", "DECAY/S", "UPDATED"],
          items.map((l) => [l.name, l.active ? "yes" : "no", String(l.limit), String(l.active_slots), String(l.denied_slots), l.slot_decay_per_second > 0 ? String(l.slot_decay_per_second) : NONE, formatTimestamp(l.updated)]),
          [2, 3, 4],
        ),
      );
    });

  gcl
    .command("inspect")
    .description("Show a global concurrency limit (by name or id)")
    .argument("<name>", "limit name or id")
    .option("--json", "print the API object as JSON")
    .action(async (name: string, options: { json?: boolean }) => {
      const found = await orNotFound(ctx.client().request<ConcurrencyLimitV2>("GET", gclPath(name)), "Global concurrency limit", name);
      if (options.json) return writeJson(ctx.stdout, found);
      ctx.stdout.write(
        formatDetails([
          ["Name", found.name],
          ["ID", found.id],
          ["Active", found.active ? "yes" : "no"],
          ["Limit", String(found.limit)],
          ["Slots in use", String(found.active_slots)],
          ["Denied slots", String(found.denied_slots)],
          ["Slot decay per second", found.slot_decay_per_second > 0 ? String(found.slot_decay_per_second) : NONE],
          ["Average slot occupancy", `${found.avg_slot_occupancy_seconds.toFixed(3)} s`],
          ["Created", formatTimestamp(found.created)],
          ["Updated", formatTimestamp(found.updated)],
        ]),
      );
    });

  gcl
    .command("update")
    .description("Change a global concurrency limit")
    .argument("<name>", "limit name or id")
    .option("--limit <n>", "slots that may be held at once", parseSlotCount)
    .option("--active-slots <n>", "set the slots in use (to free slots a lost holder kept)", parseSlotCount)
    .option("--slot-decay-per-second <rate>", "slots given back per second on their own", parseDecay)
    .option("--enable", "make it limit again")
    .option("--disable", "stop it limiting anything")
    .action(async (name: string, options: { limit?: number; activeSlots?: number; slotDecayPerSecond?: number; enable?: boolean; disable?: boolean }) => {
      if (options.enable && options.disable) throw new UsageError("--enable and --disable cannot be given together");
      const patch: Record<string, unknown> = {};
      if (options.limit !== undefined) patch.limit = options.limit;
      if (options.activeSlots !== undefined) patch.active_slots = options.activeSlots;
      if (options.slotDecayPerSecond !== undefined) patch.slot_decay_per_second = options.slotDecayPerSecond;
      if (options.enable) patch.active = true;
      if (options.disable) patch.active = false;
      if (Object.keys(patch).length === 0) throw new UsageError("nothing to update: give --limit, --active-slots, --slot-decay-per-second, --enable or --disable");
      await orNotFound(ctx.client().request("PATCH", gclPath(name), patch), "Global concurrency limit", name);
      ctx.stdout.write(`Updated global concurrency limit '${name}'.\n`);
    });

  gcl
    .command("enable")
    .description("Make a global concurrency limit limit again")
    .argument("<name>", "limit name or id")
    .action(async (name: string) => {
      await orNotFound(ctx.client().request("PATCH", gclPath(name), { active: true }), "Global concurrency limit", name);
      ctx.stdout.write(`Enabled global concurrency limit '${name}'.\n`);
    });

  gcl
    .command("disable")
    .description("Stop a global concurrency limit from limiting anything")
    .argument("<name>", "limit name or id")
    .action(async (name: string) => {
      await orNotFound(ctx.client().request("PATCH", gclPath(name), { active: false }), "Global concurrency limit", name);
      ctx.stdout.write(`Disabled global concurrency limit '${name}'.\n`);
    });

  gcl
    .command("delete")
    .description("Delete a global concurrency limit")
    .argument("<name>", "limit name or id")
    .action(async (name: string) => {
      await orNotFound(ctx.client().request("DELETE", gclPath(name)), "Global concurrency limit", name);
      ctx.stdout.write(`Deleted global concurrency limit '${name}'.\n`);
    });
}

const tagPath = (tag: string) => `/concurrency_limits/tag/${encodeURIComponent(tag)}`;

/** `baton concurrency-limit ...`: how many task runs with a tag may run at once. */
export function configureTagConcurrencyLimitCommand(program: Command, ctx: CliContext): void {
  const limits = program.command("concurrency-limit").description("Manage tag-based task concurrency limits: at most N task runs with a tag run at once");

  limits
    .command("create")
    .description("Limit how many task runs with TAG may be RUNNING at once (changes the limit if TAG has one)")
    .argument("<tag>", "task run tag")
    .requiredOption("--limit <n>", "task runs with the tag that may run at once (0 stops them all)", parseSlotCount)
    .option("--json", "print the API object as JSON")
    .action(async (tag: string, options: { limit: number; json?: boolean }) => {
      const created = await ctx.client().request<TagConcurrencyLimit>("POST", "/concurrency_limits/", { tag, concurrency_limit: options.limit });
      if (options.json) return writeJson(ctx.stdout, created);
      ctx.stdout.write(`Limited tag '${created.tag}' to ${created.concurrency_limit} concurrent task run(s) (${created.id}).\n`);
    });

  limits
    .command("ls")
    .description("List tag concurrency limits")
    .option("--limit <n>", "most limits to list", parseLimit, 100)
    .option("--json", "print the API objects as JSON")
    .action(async (options: { limit: number; json?: boolean }) => {
      const client = ctx.client();
      const items = await readPages<TagConcurrencyLimit>(options.limit, (offset, limit) => client.request("POST", "/concurrency_limits/filter", { offset, limit }));
      if (options.json) return writeJson(ctx.stdout, items);
      if (items.length === 0) return void ctx.stdout.write("No tag concurrency limits found.\n");
      ctx.stdout.write(
        formatTable(
          ["TAG", "LIMIT", "RUNNING", "ID"],
          items.map((l) => [l.tag, String(l.concurrency_limit), String(l.active_slots.length), l.id]),
          [1, 2],
        ),
      );
    });

  limits
    .command("inspect")
    .description("Show a tag's limit and the task runs holding its slots")
    .argument("<tag>", "task run tag")
    .option("--json", "print the API object as JSON")
    .action(async (tag: string, options: { json?: boolean }) => {
      const found = await orNotFound(ctx.client().request<TagConcurrencyLimit>("GET", tagPath(tag)), "Concurrency limit for tag", tag);
      if (options.json) return writeJson(ctx.stdout, found);
      ctx.stdout.write(
        formatDetails([
          ["Tag", found.tag],
          ["ID", found.id],
          ["Limit", String(found.concurrency_limit)],
          ["Task runs holding a slot", found.active_slots.length > 0 ? found.active_slots.join("\n") : NONE],
          ["Created", formatTimestamp(found.created)],
          ["Updated", formatTimestamp(found.updated)],
        ]),
      );
    });

  limits
    .command("reset")
    .description("Free every slot of a tag's limit (for runs that died holding one)")
    .argument("<tag>", "task run tag")
    .option("--keep <task-run-id...>", "task runs that keep their slot", (value: string, previous: string[] | undefined) => [...(previous ?? []), parseId(value)])
    .action(async (tag: string, options: { keep?: string[] }) => {
      await orNotFound(ctx.client().request("POST", `${tagPath(tag)}/reset`, { slot_override: options.keep ?? null }), "Concurrency limit for tag", tag);
      ctx.stdout.write(`Reset the slots of tag '${tag}'.\n`);
    });

  limits
    .command("delete")
    .description("Remove a tag's limit (its task runs are no longer limited)")
    .argument("<tag>", "task run tag")
    .action(async (tag: string) => {
      await orNotFound(ctx.client().request("DELETE", tagPath(tag)), "Concurrency limit for tag", tag);
      ctx.stdout.write(`Deleted the concurrency limit of tag '${tag}'.\n`);
    });
}
