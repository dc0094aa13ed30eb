import type { BlockDocument, ServerDefaultResultStorage } from "@baton/core";
import { defaultResultStorage, LocalFileSystem, pruneExpiredRecords } from "@baton/sdk";
import { Argument, type Command } from "commander";
import type { CliContext } from "../context.js";
import { orNotFound } from "../errors.js";
import { writeJson } from "../output.js";
import { parseSlugName } from "./block.js";

/**
 * `baton result-storage ...`: the server's default result storage (`/api/admin/storage`), the
 * block document flows and tasks write results to when they name no storage of their own;
 * `prune` deletes expired result records from storage.
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
    .command("prune")
    .description("Delete the result records past their expiration (expired cache entries) from result storage")
    .option("--path <dir>", "a LocalFileSystem folder (default: the storage the SDK writes to by default: BATON_RESULTS_S3_BUCKET, else the server's default block, else BATON_LOCAL_STORAGE_PATH)")
    .option("--dry-run", "list the expired records without deleting them")
    .option("--json", "print {storage, scanned, expired, deleted, not_records} as JSON")
    .action(async (options: { path?: string; dryRun?: boolean; json?: boolean }) => {
      const target = options.path !== undefined ? new LocalFileSystem({ basepath: options.path }) : await defaultResultStorage(ctx.client());
      const report = await pruneExpiredRecords(target, { dryRun: options.dryRun === true });
      if (options.json) {
        return writeJson(ctx.stdout, { storage: report.storage, scanned: report.scanned, expired: report.expired, deleted: report.deleted, not_records: report.notRecords });
      }
      for (const key of report.expired) ctx.stdout.write(`${options.dryRun ? "would delete" : "deleted"} ${key}\n`);
      const verb = options.dryRun ? `${report.expired.length} would be deleted` : `${report.deleted} deleted`;
      ctx.stdout.write(`${report.storage}: ${report.scanned} file(s) scanned, ${report.expired.length} expired record(s), ${verb}.\n`);
    });

  storage
    .command("clear")
    .description("Clear the server's default result storage")
    .action(async () => {
      await ctx.client().request("DELETE", "/admin/storage");
      ctx.stdout.write("Cleared the server's default result storage.\n");
    });
}
