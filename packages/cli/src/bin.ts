#!/usr/bin/env node
import { runCli } from "./program.js";

// `baton flow-run logs ID | head` closes the pipe early; that is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

const exitCode = await runCli(process.argv.slice(2));
// Exit once everything written has been flushed, without waiting for idle keep-alive sockets.
process.stdout.write("", () => process.stderr.write("", () => process.exit(exitCode)));
