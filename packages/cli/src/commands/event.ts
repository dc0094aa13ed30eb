import { EventFilter, RESOURCE_ID_LABEL, type ReceivedEvent } from "@baton/core";
import type { Command } from "commander";
import { apiUrlFromEnv, type CliContext } from "../context.js";
import { CliError, UsageError } from "../errors.js";
import { formatTimestamp } from "../output.js";
import { ServerStream } from "../streams.js";

/** `baton event ...`: the server's event stream. */
export function configureEventCommand(program: Command, ctx: CliContext): void {
  const event = program.command("event").description("Watch the server's events");

  event
    .command("stream")
    .description("Print events as they happen (through the events/out websocket) until interrupted")
    .option("--filter <json>", 'an event filter as POST /events/filter takes it, e.g. \'{"event": {"prefix": ["prefect.flow-run."]}}\'')
    .option("--backfill", "first print the latest stored events matching the filter (up to 1,000)")
    .option("--json", "print each event as one line of JSON")
    .action(async (options: { filter?: string; backfill?: boolean; json?: boolean }) => {
      const filter = parseFilter(options.filter);
      const print = (e: ReceivedEvent) => {
        if (options.json) return void ctx.stdout.write(`${JSON.stringify(e)}\n`);
        const resource = e.resource[RESOURCE_ID_LABEL] ?? "";
        const name = e.resource["prefect.resource.name"];
        ctx.stdout.write(`${formatTimestamp(e.occurred, true)} | ${e.event} | ${resource}${name ? ` (${name})` : ""}\n`);
      };
      const stream = await ServerStream.open<ReceivedEvent>(
        apiUrlFromEnv(ctx.env),
        "/events/out",
        { type: "filter", filter, backfill: options.backfill === true },
        "event",
        print,
      );
      const ended = await Promise.race([ctx.waitForShutdown().then(() => undefined), stream.closed]);
      if (ended === undefined) {
        stream.close();
        return;
      }
      throw new CliError(`The server closed the event stream (${ended.code}${ended.reason ? `: ${ended.reason}` : ""})`);
    });
}

/** The `--filter` option, checked here so a bad one is a usage error naming its field. */
function parseFilter(raw: string | undefined): Record<string, unknown> {
  if (raw === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    throw new UsageError(`--filter is not JSON: ${raw}`);
  }
  const parsed = EventFilter.safeParse(value);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(`--filter: ${issue ? `${issue.path.join(".") || "filter"}: ${issue.message}` : "invalid filter"}`);
  }
  return value as Record<string, unknown>;
}
