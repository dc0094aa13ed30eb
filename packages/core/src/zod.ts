/**
 * The zod that Baton's wire schemas are made with. Packages that compose schemas of their own
 * with these (the SDK's settings, wire and serve options) take `z` from here, so that a
 * process holds one copy of zod: the one-file builds (scripts/bundle-packages.mjs) put zod
 * inside core's, and a second copy would cost every run process its start-up time again.
 */
export { z } from "zod";
