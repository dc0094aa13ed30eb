import { ApiError, MAX_VARIABLE_VALUE_LENGTH, VariableName, variableValueSize, type JsonValue, type Variable } from "@baton/core";
import { Argument, InvalidArgumentError, type Command } from "commander";
import { readPages } from "../api.js";
import { collect, parseLimit } from "../arguments.js";
import type { CliContext } from "../context.js";
import { CliError, orNotFound, UsageError } from "../errors.js";
import { formatDetails, formatTable, formatTimestamp, NONE, writeJson } from "../output.js";

/** A variable name as the server accepts it (lowercase letters, numbers, underscores), checked before any request. */
function parseVariableName(value: string): string {
  const parsed = VariableName.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(`A variable name ${parsed.error.issues[0]?.message ?? "is invalid"}.`);
  return value;
}

/** VALUE is read as JSON when it is valid JSON (`5`, `true`, `{"a": 1}`, `"quoted"`), else taken as the string itself. */
export function parseVariableValue(text: string): { value: JsonValue; parsedAsJson: boolean } {
  let value: JsonValue;
  let parsedAsJson = true;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch {
    value = text;
    parsedAsJson = false;
  }
  if (value !== null && variableValueSize(value) > MAX_VARIABLE_VALUE_LENGTH) {
    throw new UsageError(`a variable value must be at most ${MAX_VARIABLE_VALUE_LENGTH} bytes as JSON`);
  }
  return { value, parsedAsJson };
}

function kindOf(value: JsonValue): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return "an object";
  return `a ${typeof value}`;
}

/** A value for a table cell: strings as they are, anything else as compact JSON, cut at 50 characters. */
function cell(value: JsonValue): string {
  const text = typeof value === "string" ? value : JSON.stringify(value);
  return text.length > 50 ? `${text.slice(0, 47)}...` : text;
}

const path = (name: string) => `/variables/name/${encodeURIComponent(name)}`;

/** `baton variable ...`: named JSON values that flows read with `variables.get`. */
export function configureVariableCommand(program: Command, ctx: CliContext): void {
  const variable = program.command("variable").description("Create, read and delete variables (named JSON values)");
  const nameArgument = () => new Argument("<name>", "variable name").argParser(parseVariableName);

  variable
    .command("ls")
    .description("List variables by name")
    .option("--limit <n>", "most variables to list", parseLimit, 100)
    .option("--json", "print the API objects as JSON")
    .action(async (options: { limit: number; json?: boolean }) => {
      const client = ctx.client();
      const items = await readPages<Variable>(options.limit, (offset, limit) =>
        client.request("POST", "/variables/filter", { sort: "NAME_ASC", offset, limit }),
      );
      if (options.json) return writeJson(ctx.stdout, items);
      if (items.length === 0) return void ctx.stdout.write("No variables found.\n");
      ctx.stdout.write(
        formatTable(
          ["NAME", "VALUE", "TAGS", "UPDATED"],
          items.map((v) => [v.name, cell(v.value as JsonValue), v.tags.length > 0 ? v.tags.join(", ") : NONE, formatTimestamp(v.updated)]),
        ),
      );
    });

  variable
    .command("inspect")
    .description("Show a variable")
    .addArgument(nameArgument())
    .option("--json", "print the API object as JSON")
    .action(async (name: string, options: { json?: boolean }) => {
      const found = await orNotFound(ctx.client().request<Variable>("GET", path(name)), "Variable", name);
      if (options.json) return writeJson(ctx.stdout, found);
      ctx.stdout.write(
        formatDetails([
          ["Name", found.name],
          ["ID", found.id],
          ["Value", JSON.stringify(found.value, null, 2)],
          ["Tags", found.tags.length > 0 ? found.tags.join(", ") : NONE],
          ["Created", formatTimestamp(found.created)],
          ["Updated", formatTimestamp(found.updated)],
        ]),
      );
    });

  variable
    .command("get")
    .description("Print a variable's value: a string as it is, anything else as JSON")
    .addArgument(nameArgument())
    .action(async (name: string) => {
      const found = await orNotFound(ctx.client().request<Variable>("GET", path(name)), "Variable", name);
      ctx.stdout.write(`${typeof found.value === "string" ? found.value : JSON.stringify(found.value)}\n`);
    });

  variable
    .command("set")
    .description("Create a variable, or replace its value with --overwrite. VALUE is parsed as JSON when it is valid JSON (5, true, null, [1,2], {\"a\":1}, \"text\"), otherwise it is stored as the string itself")
    .addArgument(nameArgument())
    .argument("<value>", "the value: JSON, or else a plain string")
    .option("--overwrite", "replace the value (and tags, if given) of an existing variable")
    .option("--tag <tag>", "a tag (repeatable)", collect)
    .option("--json", "print the API object as JSON")
    .action(async (name: string, text: string, options: { overwrite?: boolean; tag?: string[]; json?: boolean }) => {
      const { value, parsedAsJson } = parseVariableValue(text);
      const client = ctx.client();
      let stored: Variable;
      try {
        stored = await client.request<Variable>("POST", "/variables/", { name, value, tags: options.tag ?? [] });
      } catch (error) {
        if (!(error instanceof ApiError && error.status === 409)) throw error;
        if (!options.overwrite) throw new CliError(`Variable '${name}' already exists; use --overwrite to replace its value`);
        await client.request("PATCH", path(name), { value, ...(options.tag ? { tags: options.tag } : {}) });
        stored = await client.request<Variable>("GET", path(name));
      }
      if (options.json) return writeJson(ctx.stdout, stored);
      const how = parsedAsJson ? `${kindOf(value)}, parsed as JSON` : "a string (not valid JSON)";
      ctx.stdout.write(`Set variable '${stored.name}' to ${JSON.stringify(stored.value)} (${how}).\n`);
    });

  variable
    .command("unset")
    .description("Delete a variable")
    .addArgument(nameArgument())
    .action(async (name: string) => {
      await orNotFound(ctx.client().request("DELETE", path(name)), "Variable", name);
      ctx.stdout.write(`Unset variable '${name}'.\n`);
    });
}
