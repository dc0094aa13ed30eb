#!/usr/bin/env node
import { plainExecuteId, runPlainExecute } from "./commands/flow-run-execute.js";

// `baton flow-run logs ID | head` closes the pipe early; that is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const args = process.argv.slice(2);
// A worker starts `baton flow-run execute ID` for every flow run: that one command line skips
// building the whole program (see runPlainExecute); every other goes through commander.
const executeId = plainExecuteId(args);
const exitCode = executeId !== undefined ? await runPlainExecute(executeId) : await (await import("./program.js")).runCli(args);
// Exit once everything written has been flushed, without waiting for idle keep-alive sockets.
process.stdout.write("", () => process.stderr.write("", () => process.exit(exitCode)));
