import type { BlockDocument, ServerDefaultResultStorage } from "@baton/core";
import { Argument, type Command } from "commander";
import type { CliContext } from "../context.js";
import { orNotFound } from "../errors.js";
import { writeJson } from "../output.js";
import { parseSlugName } from "./block.js";

/**
 * `baton result-storage ...`: the server's default result storage (`/api/admin/storage`), the
 * block document flows and tasks write results to when they name no storage of their own.
 */
export function configureResultStorageCommand(program: Command, ctx: CliContext): void {
  const storage = program.command("result-storage").description("The server's default result storage block (where persisted results go by default)");

  storage
    .command("set")
    .description("Make a local-file-system or s3-bucket block the server's default result storage")
    .addArgument(new Argument("<slug/name>", "the block, e.g. s3-bucket/results").argParser(parseSlugName))
    .action(async (ref: { slug: string; name: string }) => {
      const client = ctx.client();
      const path = `/block_types/slug/${encodeURIComponent(ref.slug)}/block_documents/name/${encodeURIComponent(ref.name)}`;
      const document = await orNotFound(client.request<BlockDocument>("GET", path), "Block", `${ref.slug}/${ref.name}`);
      await client.request("PUT", "/admin/storage", { default_result_storage_block_id: document.id });
      ctx.stdout.write(`Set the server's default result storage to '${ref.slug}/${ref.name}'.\n`);
    });

  storage
    .command("inspect")
    .description("Show the server's default result storage block")
    .option("--json", "print {default_result_storage_block_id, block} as JSON")
    .action(async (options: { json?: boolean }) => {
      const client = ctx.client();
      const current = await client.request<ServerDefaultResultStorage>("GET", "/admin/storage");
      const id = current.default_result_storage_block_id;
      const document = id === null ? undefined : await client.request<BlockDocument>("GET", `/block_documents/${id}`);
      const block = document === undefined ? null : `${document.block_type?.slug ?? "?"}/${document.name ?? ""}`;
      if (options.json) return writeJson(ctx.stdout, { default_result_storage_block_id: id, block });
      if (id === null) return void ctx.stdout.write("No default result storage is set: results go to each process's own default (see the README).\n");
      ctx.stdout.write(`Default result storage: ${block ?? "?"} (${id})\n`);
    });

  storage
    .command("clear")
    .description("Clear the server's default result storage")
    .action(async () => {
      await ctx.client().request("DELETE", "/admin/storage");
      ctx.stdout.write("Cleared the server's default result storage.\n");
    });
}
