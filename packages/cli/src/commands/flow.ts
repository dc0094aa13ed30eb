import type { Flow } from "@baton/core";
import type { Command } from "commander";
import { readPages } from "../api.js";
import { parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { formatTable, formatTimestamp, writeJson } from "../output.js";

/** `baton flow ...`: the flows the server knows. */
export function configureFlowCommand(program: Command, ctx: CliContext): void {
  const flow = program.command("flow").description("Inspect flows");

  flow
    .command("ls")
    .description("List flows, newest first")
    .option("--limit <n>", "most flows to list", parseLimit, 15)
    .option("--json", "print the API objects as JSON")
    .action(async (options: { limit: number; json?: boolean }) => {
      const client = ctx.client();
      const flows = await readPages<Flow>(options.limit, (offset, limit) =>
        client.filterFlows({ sort: "CREATED_DESC", offset, limit }),
      );
      if (options.json) return writeJson(ctx.stdout, flows);
      if (flows.length === 0) return void ctx.stdout.write("No flows found.\n");
      ctx.stdout.write(
        formatTable(
          ["ID", "NAME", "CREATED", "TAGS"],
          flows.map((f) => [f.id, f.name, formatTimestamp(f.created), f.tags.join(", ")]),
        ),
      );
    });
}
