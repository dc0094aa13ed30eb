export { buildProgram, runCli } from "./program.js";
export { createContext, apiUrlFromEnv, DEFAULT_API_URL, type CliContext, type Output } from "./context.js";
export { EXIT_OK, EXIT_FAILURE, EXIT_USAGE, UsageError, CliError, NotFoundError } from "./errors.js";
