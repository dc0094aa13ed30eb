import type { BlockDocument, BlockType } from "@baton/core";
import { Argument, type Command } from "commander";
import { readPages } from "../api.js";
import type { CliContext } from "../context.js";
import { orNotFound, UsageError } from "../errors.js";
import { formatTable, formatTimestamp, writeJson } from "../output.js";

/** `TYPE-SLUG/NAME`, as Prefect's CLI names a block document. */
export function parseSlugName(value: string): { slug: string; name: string } {
  const slash = value.indexOf("/");
  if (slash <= 0 || slash === value.length - 1) throw new UsageError(`'${value}' is not a block: expected BLOCK-TYPE-SLUG/BLOCK-NAME, e.g. secret/db-password`);
  return { slug: value.slice(0, slash), name: value.slice(slash + 1) };
}

/** `baton block ...`: block documents and types. Secret fields are always shown obfuscated. */
export function configureBlockCommand(program: Command, ctx: CliContext): void {
  const block = program.command("block").description("List, inspect and delete blocks (typed configuration and secrets)");
  const documentPath = ({ slug, name }: { slug: string; name: string }) =>
    `/block_types/slug/${encodeURIComponent(slug)}/block_documents/name/${encodeURIComponent(name)}`;

  block
    .command("ls")
    .description("List block documents by type and name")
    .option("--json", "print the API objects as JSON (secrets obfuscated)")
    .action(async (options: { json?: boolean }) => {
      const client = ctx.client();
      const documents = await readPages<BlockDocument>(undefined, (offset, limit) =>
        client.request("POST", "/block_documents/filter", { sort: "BLOCK_TYPE_AND_NAME_ASC", offset, limit }),
      );
      if (options.json) return writeJson(ctx.stdout, documents);
      if (documents.length === 0) return void ctx.stdout.write("No blocks found.\n");
      ctx.stdout.write(
        formatTable(
          ["ID", "TYPE", "BLOCK"],
          documents.map((d) => [d.id, d.block_type_name ?? "", `${d.block_type?.slug ?? "?"}/${d.name ?? ""}`]),
        ),
      );
    });

  block
    .command("inspect")
    .description("Show a block document, its secret fields obfuscated")
    .addArgument(new Argument("<slug/name>", "the block, e.g. secret/db-password").argParser(parseSlugName))
    .option("--json", "print the API object as JSON")
    .action(async (ref: { slug: string; name: string }, options: { json?: boolean }) => {
      const document = await orNotFound(ctx.client().request<BlockDocument>("GET", documentPath(ref)), "Block", `${ref.slug}/${ref.name}`);
      if (options.json) return writeJson(ctx.stdout, document);
      ctx.stdout.write(
        [
          `Block:   ${ref.slug}/${document.name}`,
          `ID:      ${document.id}`,
          `Type:    ${document.block_type_name ?? ""}`,
          `Schema:  ${document.block_schema?.checksum ?? document.block_schema_id}`,
          `Updated: ${formatTimestamp(document.updated)}`,
          "Data:",
          ...JSON.stringify(document.data, null, 2).split("\n").map((l) => `  ${l}`),
          "",
        ].join("\n"),
      );
    });

  block
    .command("delete")
    .description("Delete a block document")
    .addArgument(new Argument("<slug/name>", "the block, e.g. secret/db-password").argParser(parseSlugName))
    .action(async (ref: { slug: string; name: string }) => {
      const client = ctx.client();
      const document = await orNotFound(client.request<BlockDocument>("GET", documentPath(ref)), "Block", `${ref.slug}/${ref.name}`);
      await client.request("DELETE", `/block_documents/${document.id}`);
      ctx.stdout.write(`Deleted block '${ref.slug}/${ref.name}'.\n`);
    });

  block
    .command("register-system")
    .description("Install (or refresh) the system block types: secret, json, date-time, string")
    .action(async () => {
      await ctx.client().request("POST", "/block_types/install_system_block_types");
      ctx.stdout.write("Installed the system block types.\n");
    });

  const type = block.command("type").description("Block types");
  type
    .command("ls")
    .description("List block types by name")
    .option("--json", "print the API objects as JSON")
    .action(async (options: { json?: boolean }) => {
      const client = ctx.client();
      const types = await readPages<BlockType>(undefined, (offset, limit) => client.request("POST", "/block_types/filter", { offset, limit }));
      if (options.json) return writeJson(ctx.stdout, types);
      ctx.stdout.write(
        formatTable(
          ["SLUG", "NAME", "PROTECTED", "DESCRIPTION"],
          types.map((t) => [t.slug, t.name, t.is_protected ? "yes" : "no", t.description ?? ""]),
        ),
      );
    });
}
