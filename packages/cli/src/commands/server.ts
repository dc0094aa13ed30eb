import type { ServerConfig } from "@baton/server";
import type { Command } from "commander";
import { parsePort } from "../arguments.js";
import type { CliContext } from "../context.js";
import { CliError } from "../errors.js";
import { formatTable, writeJson } from "../output.js";

/** `baton server ...`: run the API server in this process. */
export function configureServerCommand(program: Command, ctx: CliContext): void {
  const server = program.command("server").description("Run the Baton server");
  configureServicesCommand(server, ctx);

  server
    .command("start")
    .description("Start the server and keep it running until Ctrl+C (SIGINT) or SIGTERM")
    .option("--host <host>", "address to listen on (default: BATON_SERVER_HOST or 127.0.0.1)")
    .option("--port <port>", "port to listen on, 0 for any free port (default: BATON_SERVER_PORT or 4200)", parsePort)
    .option("--no-services", "serve the API only; run the background services elsewhere with `baton server services start`")
    .action(async (options: { host?: string; port?: number; services: boolean }) => {
      // Loaded here, not at start-up: the server's modules are heavy and only two commands need them.
      const { loadConfig, startServer } = await import("@baton/server");
      const loaded = loadConfig(ctx.env);
      const config: ServerConfig = { ...loaded, host: options.host ?? loaded.host, port: options.port ?? loaded.port };
      // Listen before starting, so that a signal that arrives during start-up still stops cleanly.
      const shutdown = ctx.waitForShutdown();
      const running = await startServer({ config, services: options.services }).catch((error: unknown) => {
        throw explainListenError(error, config);
      });
      ctx.stdout.write(
        [
          `Baton server running at ${running.url}`,
          `  API:  ${running.apiUrl}`,
          `  Docs: ${running.url}/docs`,
          `  Services: ${running.services.length > 0 ? running.services.map((s) => s.name).join(", ") : "none"}`,
          `Set BATON_API_URL=${running.apiUrl} to use it from another shell. Press Ctrl+C to stop.`,
          "",
        ].join("\n"),
      );
      const signal = await shutdown;
      ctx.stdout.write(`Received ${signal}; stopping the server...\n`);
      await running.close();
      ctx.stdout.write("Server stopped.\n");
    });
}

function configureServicesCommand(server: Command, ctx: CliContext): void {
  const services = server.command("services").description("Run or list the background services (scheduler, late runs, zombies, ...)");

  services
    .command("start")
    .description("Run the enabled background services without the API, until Ctrl+C (SIGINT) or SIGTERM")
    .action(async () => {
      const { loadConfig, startServices } = await import("@baton/server");
      const config = loadConfig(ctx.env);
      const shutdown = ctx.waitForShutdown();
      const running = await startServices({ config });
      ctx.stdout.write(`Baton services running: ${running.services.map((s) => s.name).join(", ") || "none (all disabled)"}. Press Ctrl+C to stop.\n`);
      const signal = await shutdown;
      ctx.stdout.write(`Received ${signal}; stopping the services...\n`);
      await running.close();
      ctx.stdout.write("Services stopped.\n");
    });

  services
    .command("ls")
    .description("List the background services, whether this configuration runs them, and their loop intervals")
    .option("--json", "print JSON")
    .action(async (options: { json?: boolean }) => {
      const { loadConfig, describeServices } = await import("@baton/server");
      const rows = describeServices(loadConfig(ctx.env));
      if (options.json) {
        writeJson(ctx.stdout, rows);
        return;
      }
      ctx.stdout.write(
        formatTable(
          ["SERVICE", "ENABLED", "EVERY", "SETTING"],
          rows.map((r) => [r.name, r.enabled ? (r.available ? "yes" : "yes (not in this build)") : "no", `${r.loopSeconds}s`, `BATON_SERVER_SERVICES_${r.name.toUpperCase()}_ENABLED`]),
        ),
      );
    });
}

/** A one-line reason for the usual ways listening fails; other errors pass through. */
function explainListenError(error: unknown, config: ServerConfig): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === "EADDRINUSE") return new CliError(`Port ${config.port} on ${config.host} is already in use; pick another with --port.`);
  if (code === "EADDRNOTAVAIL" || code === "ENOTFOUND" || code === "EACCES") {
    return new CliError(`Cannot listen on ${config.host}:${config.port} (${code}); check --host and --port.`);
  }
  return error;
}
