import { readFileSync } from "node:fs";
import type { Automation, Trigger } from "@baton/core";
import type { Command } from "commander";
import { parse as parseYaml } from "yaml";
import { readPages } from "../api.js";
import { parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { CliError, NotFoundError, orNotFound, UsageError } from "../errors.js";
import { formatDetails, formatTable, formatTimestamp, NONE, writeJson } from "../output.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A one-line summary of a trigger for tables (`Reactive prefect.flow-run.Crashed`, `compound all of 2`). */
export function describeTrigger(trigger: Trigger): string {
  if (trigger.type === "event") {
    const expect = trigger.expect.length > 0 ? trigger.expect.join(",") : "any event";
    const count = trigger.threshold !== 1 ? ` x${trigger.threshold}` : "";
    const within = trigger.within > 0 ? ` within ${trigger.within}s` : "";
    return `${trigger.posture} ${expect}${count}${within}`;
  }
  const require = trigger.type === "compound" ? `${typeof trigger.require === "number" ? trigger.require : trigger.require} of ${trigger.triggers.length}` : `${trigger.triggers.length} in order`;
  return `${trigger.type} ${require}${trigger.within ? ` within ${trigger.within}s` : ""}`;
}

/** The automations a file describes: one automation, a list of them, or `automations: [...]` (YAML or JSON). */
export function readAutomationFile(file: string): Array<Record<string, unknown>> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  let doc: unknown;
  try {
    doc = parseYaml(text) as unknown;
  } catch (error) {
    throw new UsageError(`${file} is not valid YAML or JSON: ${(error as Error).message.split("\n")[0]}`);
  }
  const list = Array.isArray(doc) ? doc : doc && typeof doc === "object" && Array.isArray((doc as { automations?: unknown }).automations) ? (doc as { automations: unknown[] }).automations : [doc];
  if (list.length === 0) throw new UsageError(`${file} describes no automation`);
  return list.map((item, i) => {
    if (!item || typeof item !== "object" || Array.isArray(item)) throw new UsageError(`${file}: automation ${i + 1} is not a mapping`);
    return item as Record<string, unknown>;
  });
}

/** `baton automation ...`: automations (a trigger over events and the actions it takes). */
export function configureAutomationCommand(program: Command, ctx: CliContext): void {
  const automation = program.command("automation").description("Create, list, enable, disable and delete automations");

  /** An automation by id, or by name when exactly one has it. */
  async function resolve(ref: string): Promise<Automation> {
    const client = ctx.client();
    if (UUID.test(ref)) return orNotFound(client.request<Automation>("GET", `/automations/${ref}`), "Automation", ref);
    const found = await client.request<Automation[]>("POST", "/automations/filter", { automations: { name: { any_: [ref] } }, limit: 2 });
    if (found.length === 0) throw new NotFoundError("Automation", ref);
    if (found.length > 1) throw new CliError(`Several automations are named '${ref}'; name one by its id`);
    return found[0]!;
  }

  automation
    .command("create")
    .description("Create the automations a YAML or JSON file describes (one automation, a list, or `automations: [...]`)")
    .requiredOption("-f, --file <path>", "the automation file")
    .option("--json", "print the created automations as JSON")
    .action(async (options: { file: string; json?: boolean }) => {
      const client = ctx.client();
      const created: Automation[] = [];
      for (const [i, body] of readAutomationFile(options.file).entries()) {
        try {
          created.push(await client.request<Automation>("POST", "/automations/", body));
        } catch (error) {
          const name = typeof body.name === "string" ? `'${body.name}'` : `number ${i + 1}`;
          throw new CliError(`automation ${name} in ${options.file} was refused: ${(error as Error).message}${created.length > 0 ? ` (${created.length} created before it)` : ""}`);
        }
      }
      if (options.json) return writeJson(ctx.stdout, created);
      for (const a of created) ctx.stdout.write(`Created automation '${a.name}' (${a.id})\n`);
    });

  automation
    .command("ls")
    .description("List automations by name")
    .option("--limit <n>", "most automations to list", parseLimit, 100)
    .option("--json", "print the API objects as JSON")
    .action(async (options: { limit: number; json?: boolean }) => {
      const client = ctx.client();
      const items = await readPages<Automation>(options.limit, (offset, limit) => client.request("POST", "/automations/filter", { sort: "NAME_ASC", offset, limit }));
      if (options.json) return writeJson(ctx.stdout, items);
      if (items.length === 0) return void ctx.stdout.write("No automations found.\n");
      ctx.stdout.write(
        formatTable(
          ["NAME", "ID", "ENABLED", "TRIGGER", "ACTIONS"],
          items.map((a) => [a.name, a.id, a.enabled ? "yes" : "no", describeTrigger(a.trigger), [...[...a.actions, ...a.actions_on_trigger].map((x) => x.type), ...a.actions_on_resolve.map((x) => `${x.type} (on resolve)`)].join(", ") || NONE]),
        ),
      );
    });

  automation
    .command("inspect")
    .description("Show an automation, its trigger and actions")
    .argument("<automation>", "name or id")
    .option("--json", "print the API object as JSON")
    .option("--yaml", "print it as YAML (what `create --file` takes)")
    .action(async (ref: string, options: { json?: boolean; yaml?: boolean }) => {
      const found = await resolve(ref);
      if (options.json) return writeJson(ctx.stdout, found);
      if (options.yaml) {
        const { stringify } = await import("yaml");
        const { id: _id, created: _c, updated: _u, ...rest } = found;
        return void ctx.stdout.write(stringify(rest));
      }
      ctx.stdout.write(
        formatDetails([
          ["Name", found.name],
          ["ID", found.id],
          ["Enabled", found.enabled ? "yes" : "no"],
          ["Description", found.description || NONE],
          ["Tags", found.tags.length > 0 ? found.tags.join(", ") : NONE],
          ["Trigger", describeTrigger(found.trigger)],
          ["Trigger (JSON)", JSON.stringify(found.trigger, null, 2)],
          ["Actions", JSON.stringify(found.actions, null, 2)],
          ...(found.actions_on_trigger.length > 0 ? [["Actions on trigger", JSON.stringify(found.actions_on_trigger, null, 2)] as const] : []),
          ...(found.actions_on_resolve.length > 0 ? [["Actions on resolve", JSON.stringify(found.actions_on_resolve, null, 2)] as const] : []),
          ["Created", formatTimestamp(found.created)],
          ["Updated", formatTimestamp(found.updated)],
        ]),
      );
    });

  for (const [name, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    automation
      .command(name)
      .description(enabled ? "Enable an automation: its trigger is evaluated again" : "Disable an automation: its trigger is not evaluated and its state is dropped")
      .argument("<automation>", "name or id")
      .action(async (ref: string) => {
        const found = await resolve(ref);
        await ctx.client().request("PATCH", `/automations/${found.id}`, { enabled });
        ctx.stdout.write(`${enabled ? "Enabled" : "Disabled"} automation '${found.name}'\n`);
      });
  }

  automation
    .command("delete")
    .description("Delete an automation")
    .argument("<automation>", "name or id")
    .action(async (ref: string) => {
      const found = await resolve(ref);
      await ctx.client().request("DELETE", `/automations/${found.id}`);
      ctx.stdout.write(`Deleted automation '${found.name}'\n`);
    });
}
