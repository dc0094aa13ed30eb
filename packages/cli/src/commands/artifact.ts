import { ArtifactKey, type Artifact, type ArtifactCollection } from "@baton/core";
import { Argument, InvalidArgumentError, type Command } from "commander";
import { readPages } from "../api.js";
import { parseId, parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { CliError, orNotFound, UsageError } from "../errors.js";
import { formatDetails, formatTable, formatTimestamp, NONE, writeJson } from "../output.js";

/** An artifact key as the server accepts it (lowercase letters, numbers, dashes), checked before any request. */
function parseKey(value: string): string {
  const parsed = ArtifactKey.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`An artifact key ${parsed.error.issues[0]?.message ?? "is invalid"}.`);
  return value;
}

/** An artifact's data for a table cell or a detail line: strings as they are, anything else as JSON. */
function dataText(data: unknown, max?: number): string {
  if (data === null || data === undefined) return NONE;
  const text = typeof data === "string" ? data : JSON.stringify(data);
  const flat = max === undefined ? text : text.replace(/\s*\n\s*/g, " ");
  return max !== undefined && flat.length > max ? `${flat.slice(0, max - 3)}...` : flat;
}

/** Every version of `key`, newest first. */
function versionsOf(ctx: CliContext, key: string, limit: number | undefined): Promise<Artifact[]> {
  const client = ctx.client();
  return readPages<Artifact>(limit, (offset, pageLimit) =>
    client.request("POST", "/artifacts/filter", { artifacts: { key: { any_: [key] } }, sort: "CREATED_DESC", offset, limit: pageLimit }),
  );
}

/** `baton artifact ...`: what runs published (tables, markdown, links, progress, images). */
export function configureArtifactCommand(program: Command, ctx: CliContext): void {
  const artifact = program.command("artifact").description("List, inspect and delete artifacts");

  artifact
    .command("ls")
    .description("List the latest artifact of each key, by key; --all-versions lists every artifact, keyless ones too")
    .option("--all-versions", "every version of every key, and artifacts without a key")
    .option("--limit <n>", "most artifacts to list", parseLimit, 100)
    .option("--json", "print the API objects as JSON")
    .action(async (options: { allVersions?: boolean; limit: number; json?: boolean }) => {
      const client = ctx.client();
      const path = options.allVersions ? "/artifacts/filter" : "/artifacts/latest/filter";
      const items = await readPages<Artifact | ArtifactCollection>(options.limit, (offset, limit) =>
        client.request("POST", path, { sort: "KEY_ASC", offset, limit }),
      );
      if (options.json) return writeJson(ctx.stdout, items);
      if (items.length === 0) return void ctx.stdout.write("No artifacts found.\n");
      ctx.stdout.write(
        formatTable(
          ["ID", "KEY", "TYPE", "DATA", "UPDATED"],
          items.map((a) => [
            "latest_id" in a ? a.latest_id : a.id,
            a.key ?? NONE,
            a.type ?? NONE,
            dataText(a.data, 40),
            formatTimestamp(a.updated),
          ]),
        ),
      );
    });

  artifact
    .command("inspect")
    .description("Show every version of an artifact key, newest first")
    .addArgument(new Argument("<key>", "artifact key").argParser(parseKey))
    .option("--limit <n>", "most versions to show", parseLimit, 10)
    .option("--json", "print the API objects as JSON")
    .action(async (key: string, options: { limit: number; json?: boolean }) => {
      const versions = await versionsOf(ctx, key, options.limit);
      if (versions.length === 0) throw new CliError(`Artifact key '${key}' not found`);
      if (options.json) return writeJson(ctx.stdout, versions);
      ctx.stdout.write(
        versions
          .map((a, i) =>
            formatDetails([
              ["Key", `${key}${i === 0 ? " (latest)" : ""}`],
              ["ID", a.id],
              ["Type", a.type ?? NONE],
              ["Description", a.description ?? NONE],
              ["Data", dataText(a.data)],
              ["Flow run", a.flow_run_id ?? NONE],
              ["Task run", a.task_run_id ?? NONE],
              ["Created", formatTimestamp(a.created)],
            ]),
          )
          .join("\n"),
      );
    });

  artifact
    .command("delete")
    .description("Delete every version of an artifact key, or one artifact with --id")
    .addArgument(new Argument("[key]", "artifact key").argParser(parseKey))
    .option("--id <id>", "delete only this artifact", parseId)
    .action(async (key: string | undefined, options: { id?: string }) => {
      if ((key === undefined) === (options.id === undefined)) throw new UsageError("give either an artifact KEY or --id ID");
      const client = ctx.client();
      if (options.id !== undefined) {
        await orNotFound(client.request("DELETE", `/artifacts/${options.id}`), "Artifact", options.id);
        return void ctx.stdout.write(`Deleted artifact ${options.id}.\n`);
      }
      const versions = await versionsOf(ctx, key!, undefined);
      if (versions.length === 0) throw new CliError(`Artifact key '${key}' not found`);
      for (const version of versions) await client.request("DELETE", `/artifacts/${version.id}`);
      ctx.stdout.write(`Deleted ${versions.length} version${versions.length === 1 ? "" : "s"} of artifact '${key}'.\n`);
    });
}
