import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const CONTRACT_PATH = join(resolve(dirname(fileURLToPath(import.meta.url)), "../../.."), "../shared/contract/prefect-rest-api-v3.openapi.json");

/**
 * The property names the contract gives a schema, or undefined when the contract file is not
 * beside the repository (the contract checks are skipped then, as in contract.test.ts).
 */
export function contractProperties(schema: string): string[] | undefined {
  if (!existsSync(CONTRACT_PATH)) return undefined;
  const document = JSON.parse(readFileSync(CONTRACT_PATH, "utf8")) as { components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };
  const properties = document.components.schemas[schema]?.properties;
  if (!properties) throw new Error(`the contract has no schema ${schema}`);
  return Object.keys(properties).sort();
}
