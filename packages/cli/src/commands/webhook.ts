import { readFileSync } from "node:fs";
import type { Webhook } from "@baton/core";
import type { Command } from "commander";
import { readPages } from "../api.js";
import { parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { CliError, NotFoundError, orNotFound, UsageError } from "../errors.js";
import { formatDetails, formatTable, formatTimestamp, NONE, writeJson } from "../output.js";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Where a webhook receives requests: `/hooks/{slug}` on the server, outside `/api`. */
export function hookUrl(apiUrl: string, slug: string): string {
  return `${apiUrl.replace(/\/api$/, "")}/hooks/${slug}`;
}

/** The template from `--template` or `--template-file` (exactly one of them), or none for an update that leaves it. */
function readTemplate(options: { template?: string; templateFile?: string }, required: boolean): string | undefined {
  if (options.template !== undefined && options.templateFile !== undefined) throw new UsageError("give the template with --template or --template-file, not both");
  if (options.templateFile !== undefined) {
    try {
      return readFileSync(options.templateFile, "utf8");
    } catch (error) {
      throw new UsageError(`cannot read ${options.templateFile}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  }
  if (options.template === undefined && required) throw new UsageError("a webhook needs a template: --template '<json>' or --template-file <path>");
  return options.template;
}

/** The environment variable `webhook create` takes the secret from when no option gives it. */
export const WEBHOOK_SECRET_ENV = "BATON_WEBHOOK_SECRET";

/** Everything on `input` up to its end, less one trailing newline (`echo "$S" | baton ...`). */
async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  let text = "";
  input.setEncoding("utf8");
  for await (const chunk of input) text += String(chunk);
  return text.replace(/\r?\n$/, "");
}

/**
 * The secret of `webhook create`: `--secret-stdin` (kept out of shell history and the process
 * list), else `--secret`, else BATON_WEBHOOK_SECRET (read from `ctx.env`, as every other
 * variable the CLI reads); none is a webhook without a secret.
 */
async function readSecret(options: { secret?: string; secretStdin?: boolean }, ctx: CliContext): Promise<string | undefined> {
  if (!options.secretStdin) return options.secret ?? ctx.env[WEBHOOK_SECRET_ENV];
  if (options.secret !== undefined) throw new UsageError("give the secret with --secret or --secret-stdin, not both");
  const secret = await readAll(ctx.stdin ?? process.stdin);
  if (secret === "") throw new UsageError("--secret-stdin: no secret on standard input");
  return secret;
}

/** `baton webhook ...`: inbound webhooks (`POST /hooks/{slug}` turns a request into an event). */
export function configureWebhookCommand(program: Command, ctx: CliContext): void {
  const webhook = program.command("webhook").description("Create, list, inspect, rotate and delete inbound webhooks");

  /** A webhook by id, or by name when exactly one has it. */
  async function resolve(ref: string): Promise<Webhook> {
    const client = ctx.client();
    if (UUID.test(ref)) return orNotFound(client.request<Webhook>("GET", `/webhooks/${ref}`), "Webhook", ref);
    // The filter has no name criterion: webhooks are few, so read them all.
    const all = await readPages<Webhook>(undefined, (offset, limit) => client.request("POST", "/webhooks/filter", { offset, limit }));
    const found = all.filter((w) => w.name === ref);
    if (found.length === 0) throw new NotFoundError("Webhook", ref);
    if (found.length > 1) throw new CliError(`Several webhooks are named '${ref}'; name one by its id`);
    return found[0]!;
  }

  const url = (slug: string) => hookUrl(ctx.client().apiUrl, slug);

  webhook
    .command("create")
    .description("Create a webhook; requests to its URL become events through the template")
    .argument("<name>", "the webhook's name")
    .option("--template <json>", "the template: the JSON of an event, with {{ body }}, {{ headers }}, {{ query }}...")
    .option("--template-file <path>", "read the template from a file")
    .option("--description <text>", "what the webhook is for", "")
    .option(
      "--secret <secret>",
      `a shared secret (16+ characters) every request must carry or sign with (default: $${WEBHOOK_SECRET_ENV}); on the command line it stays in shell history: prefer --secret-stdin or the variable`,
    )
    .option("--secret-stdin", "read the secret from standard input (e.g. printf %s \"$SECRET\" | baton webhook create ...)")
    .option("--disabled", "create it disabled (its URL answers 404 until enabled)")
    .option("--json", "print the created webhook as JSON")
    .action(async (name: string, options: { template?: string; templateFile?: string; description: string; secret?: string; secretStdin?: boolean; disabled?: boolean; json?: boolean }) => {
      const template = readTemplate(options, true)!;
      const secret = await readSecret(options, ctx);
      const body = { name, description: options.description, enabled: !options.disabled, template, ...(secret !== undefined ? { secret } : {}) };
      let created: Webhook;
      try {
        created = await ctx.client().request<Webhook>("POST", "/webhooks/", body);
      } catch (error) {
        throw new CliError(`webhook '${name}' was refused: ${(error as Error).message}`);
      }
      if (options.json) return writeJson(ctx.stdout, created);
      ctx.stdout.write(`Created webhook '${created.name}' (${created.id})\nURL: ${url(created.slug)}\n`);
    });

  webhook
    .command("ls")
    .description("List webhooks by name")
    .option("--limit <n>", "most webhooks to list", parseLimit, 100)
    .option("--json", "print the API objects as JSON")
    .action(async (options: { limit: number; json?: boolean }) => {
      const client = ctx.client();
      const items = await readPages<Webhook>(options.limit, (offset, limit) => client.request("POST", "/webhooks/filter", { offset, limit }));
      if (options.json) return writeJson(ctx.stdout, items);
      if (items.length === 0) return void ctx.stdout.write("No webhooks found.\n");
      ctx.stdout.write(
        formatTable(
          ["NAME", "ID", "ENABLED", "SECRET", "URL"],
          items.map((w) => [w.name, w.id, w.enabled ? "yes" : "no", w.secret ? "yes" : "no", url(w.slug)]),
        ),
      );
    });

  webhook
    .command("inspect")
    .description("Show a webhook, its URL and template (never its secret)")
    .argument("<webhook>", "name or id")
    .option("--json", "print the API object as JSON")
    .action(async (ref: string, options: { json?: boolean }) => {
      const found = await resolve(ref);
      if (options.json) return writeJson(ctx.stdout, found);
      ctx.stdout.write(
        formatDetails([
          ["Name", found.name],
          ["ID", found.id],
          ["Enabled", found.enabled ? "yes" : "no"],
          ["Description", found.description || NONE],
          ["URL", url(found.slug)],
          ["Secret", found.secret ? "set (not shown)" : NONE],
          ["Template", found.template],
          ["Created", formatTimestamp(found.created)],
          ["Updated", formatTimestamp(found.updated)],
        ]),
      );
    });

  webhook
    .command("rotate")
    .description("Give a webhook a new random URL; the old one stops working at once")
    .argument("<webhook>", "name or id")
    .option("--json", "print the updated webhook as JSON")
    .action(async (ref: string, options: { json?: boolean }) => {
      const found = await resolve(ref);
      const rotated = await orNotFound(ctx.client().request<Webhook>("POST", `/webhooks/${found.id}/rotate`), "Webhook", ref);
      if (options.json) return writeJson(ctx.stdout, rotated);
      ctx.stdout.write(`Rotated webhook '${rotated.name}'\nURL: ${url(rotated.slug)}\n`);
    });

  for (const [name, enabled] of [
    ["enable", true],
    ["disable", false],
  ] as const) {
    webhook
      .command(name)
      .description(enabled ? "Enable a webhook: its URL accepts requests again" : "Disable a webhook: its URL answers 404")
      .argument("<webhook>", "name or id")
      .action(async (ref: string) => {
        const found = await resolve(ref);
        await ctx.client().request("PATCH", `/webhooks/${found.id}`, { enabled });
        ctx.stdout.write(`${enabled ? "Enabled" : "Disabled"} webhook '${found.name}'\n`);
      });
  }

  webhook
    .command("delete")
    .description("Delete a webhook")
    .argument("<webhook>", "name or id")
    .action(async (ref: string) => {
      const found = await resolve(ref);
      await orNotFound(ctx.client().request("DELETE", `/webhooks/${found.id}`), "Webhook", ref);
      ctx.stdout.write(`Deleted webhook '${found.name}'\n`);
    });
}
