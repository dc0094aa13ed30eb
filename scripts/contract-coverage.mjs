/* global console, process, fetch, URL */
// Counts how many of the contract's operations (method + path) a Baton server answers, by
// comparing the server's own OpenAPI document with ../shared/contract. Run after a build:
//   node scripts/contract-coverage.mjs [--missing]
import { readFileSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startServer } from "@baton/server";

const contractPath = fileURLToPath(new URL("../../shared/contract/prefect-rest-api-v3.openapi.json", import.meta.url));
if (!existsSync(contractPath)) {
  console.error(`contract-coverage: no contract at ${contractPath}`);
  process.exit(1);
}
const METHODS = ["get", "put", "post", "patch", "delete"];
const operations = (doc, prefix) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => `${m.toUpperCase()} ${normalize(path.slice(prefix.length))}`),
  );
// Trailing slashes and parameter names differ between the two documents without meaning anything.
const normalize = (path) => path.replace(/\/$/, "").replace(/\{[^}]+\}/g, "{}");

const contract = JSON.parse(readFileSync(contractPath, "utf8"));
const server = await startServer({ config: { port: 0, databaseUrl: "sqlite::memory:", logLevel: "silent" }, services: false });
try {
  const ours = await (await fetch(`${server.apiUrl}/openapi.json`)).json();
  const answered = new Set(operations(ours, ""));
  const wanted = operations(contract, "");
  const missing = wanted.filter((op) => !answered.has(op));
  console.log(`contract operations answered: ${wanted.length - missing.length}/${wanted.length}`);
  if (process.argv.includes("--missing")) for (const op of missing) console.log(`  missing: ${op}`);
} finally {
  await server.close();
}
