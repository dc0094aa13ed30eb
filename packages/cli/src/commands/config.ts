import type { Command } from "commander";
import { apiUrlFromEnv, type CliContext } from "../context.js";
import { formatTable, writeJson } from "../output.js";

/** `baton config ...`: the settings in effect and where each came from. */
export function configureConfigCommand(program: Command, ctx: CliContext): void {
  const config = program.command("config").description("Show Baton's settings");

  config
    .command("view")
    .description("Show every setting, its value, and whether it came from the environment or a default")
    .option("--json", "print {SETTING: value} as JSON")
    .action(async (options: { json?: boolean }) => {
      // Loaded here, not at start-up: the server's modules are heavy and only two commands need them.
      const { describeConfig, loadConfig } = await import("@baton/server");
      const settings = [
        ...describeConfig(loadConfig(ctx.env)),
        // The CLI's own setting: which server its commands talk to.
        { setting: "BATON_API_URL", value: apiUrlFromEnv(ctx.env) },
      ];
      if (options.json) {
        return writeJson(ctx.stdout, Object.fromEntries(settings.map(({ setting, value }) => [setting, value])));
      }
      const source = (setting: string) => (ctx.env[setting] === undefined ? "default" : "env");
      ctx.stdout.write(
        formatTable(
          ["SETTING", "VALUE", "SOURCE"],
          settings.map(({ setting, value }) => [setting, value, source(setting)]),
        ),
      );
    });
}
