import { blockSchemaChecksum } from "./checksum.js";

/**
 * The block types a server installs for itself (`POST /block_types/install_system_block_types`,
 * and at every start), shared with the SDK's `Secret`, `JSONBlock`, `StringBlock` and
 * `DateTimeBlock` so that both send the same fields and so the same checksum. Prefect 3
 * installs Secret, JSON and DateTime as protected types (with Webhook, which Baton does not
 * have); String is registered by its client, so it is not protected here. The two result
 * storage types, `local-file-system` (Prefect's fields) and `s3-bucket` (Baton's fields; the
 * SDK also reads prefect-aws's shape), are not protected, so a client may register its own
 * schema version of them.
 */
export interface SystemBlock {
  name: string;
  slug: string;
  description: string;
  isProtected: boolean;
  /** The block schema's `fields`: a JSON Schema of the document's data, with Prefect's extras. */
  fields: Record<string, unknown>;
  capabilities: string[];
}

function valueSchema(title: string, slug: string, value: Record<string, unknown>, secret: boolean): Record<string, unknown> {
  return {
    title,
    type: "object",
    properties: { value: { title: "Value", ...value } },
    required: ["value"],
    block_type_slug: slug,
    secret_fields: secret ? ["value"] : [],
    block_schema_references: {},
  };
}

function objectSchema(title: string, slug: string, properties: Record<string, unknown>, required: string[], secretFields: string[]): Record<string, unknown> {
  return { title, type: "object", properties, required, block_type_slug: slug, secret_fields: secretFields, block_schema_references: {} };
}

const secretString = (title: string, description: string) => ({ title, description, type: "string", format: "password", writeOnly: true });
const secretDict = (title: string, description: string) => ({ title, description, type: "object" });

export const SYSTEM_BLOCKS: readonly SystemBlock[] = [
  {
    name: "Secret",
    slug: "secret",
    description: "A secret value, stored encrypted and shown obfuscated unless asked for with include_secrets.",
    isProtected: true,
    fields: valueSchema("Secret", "secret", { description: "The value to keep secret.", type: "string", format: "password", writeOnly: true }, true),
    capabilities: [],
  },
  {
    name: "JSON",
    slug: "json",
    description: "Any JSON value.",
    isProtected: true,
    fields: valueSchema("JSON", "json", { description: "A JSON value." }, false),
    capabilities: [],
  },
  {
    name: "Date Time",
    slug: "date-time",
    description: "A date and time.",
    isProtected: true,
    fields: valueSchema("DateTime", "date-time", { description: "An ISO 8601 date-time.", type: "string", format: "date-time" }, false),
    capabilities: [],
  },
  {
    name: "String",
    slug: "string",
    description: "A string value.",
    isProtected: false,
    fields: valueSchema("String", "string", { description: "A string.", type: "string" }, false),
    capabilities: [],
  },
  {
    name: "Local File System",
    slug: "local-file-system",
    description: "Store data as a file on a local file system (result storage: records under `basepath`).",
    isProtected: false,
    fields: {
      title: "LocalFileSystem",
      description: "Store data as a file on a local file system.",
      type: "object",
      properties: { basepath: { title: "Basepath", description: "Default local path for this block to write to.", type: "string" } },
      block_type_slug: "local-file-system",
      secret_fields: [],
      block_schema_references: {},
    },
    capabilities: ["get-directory", "put-directory", "read-path", "write-path"],
  },
  {
    name: "S3 Bucket",
    slug: "s3-bucket",
    description: "An S3 bucket (AWS or any S3-compatible store) for result storage.",
    isProtected: false,
    fields: {
      title: "S3Bucket",
      description: "An S3 bucket (AWS or any S3-compatible store) for result storage.",
      type: "object",
      properties: {
        bucket_name: { title: "Bucket Name", description: "Name of the bucket.", type: "string" },
        bucket_folder: { title: "Bucket Folder", description: "A key prefix inside the bucket.", type: "string", default: "" },
        endpoint_url: { title: "Endpoint URL", description: "URL of an S3-compatible server; empty for AWS.", type: "string" },
        region_name: { title: "Region Name", description: "The bucket's region.", type: "string" },
        aws_access_key_id: { title: "AWS Access Key ID", type: "string" },
        aws_secret_access_key: { title: "AWS Secret Access Key", type: "string", format: "password", writeOnly: true },
        force_path_style: { title: "Force Path Style", description: "Path-style URLs, which most S3-compatible servers need.", type: "boolean" },
      },
      required: ["bucket_name"],
      block_type_slug: "s3-bucket",
      secret_fields: ["aws_secret_access_key"],
      block_schema_references: {},
    },
    capabilities: ["read-path", "write-path"],
  },
  {
    name: "Webhook",
    slug: "webhook",
    description: "An HTTP endpoint to call (automations' call-webhook action).",
    isProtected: true,
    fields: objectSchema(
      "Webhook",
      "webhook",
      {
        method: { title: "Method", description: "The HTTP method.", default: "POST", enum: ["GET", "POST", "PUT", "PATCH", "DELETE"], type: "string" },
        url: secretString("Webhook URL", "The URL to call."),
        headers: secretDict("Webhook Headers", "Headers to send with the request."),
      },
      ["url"],
      ["url", "headers.*"],
    ),
    capabilities: [],
  },
  {
    name: "Slack Webhook",
    slug: "slack-webhook",
    description: "Sends notifications to a Slack incoming webhook.",
    isProtected: false,
    fields: objectSchema("SlackWebhook", "slack-webhook", { url: secretString("Webhook URL", "Slack incoming webhook URL.") }, ["url"], ["url"]),
    capabilities: ["notify"],
  },
  {
    name: "Custom Webhook",
    slug: "custom-webhook",
    description: "Sends notifications as HTTP requests of any shape; {{subject}}, {{body}}, {{name}} and the secrets' keys are substituted.",
    isProtected: false,
    fields: objectSchema(
      "CustomWebhookNotificationBlock",
      "custom-webhook",
      {
        name: { title: "Name", type: "string", default: "Prefect Notifications" },
        url: { title: "Webhook URL", type: "string" },
        method: { title: "Method", type: "string", default: "POST", enum: ["GET", "POST", "PUT", "PATCH", "DELETE"] },
        params: { title: "Query Params", type: "object" },
        json_data: { title: "JSON Data", type: "object" },
        form_data: { title: "Form Data", type: "object" },
        headers: { title: "Headers", type: "object" },
        cookies: { title: "Cookies", type: "object" },
        timeout: { title: "Timeout", type: "number", default: 10 },
        secrets: secretDict("Custom Secret Values", "Values substituted for {{key}} anywhere in the request."),
      },
      ["url"],
      ["secrets.*"],
    ),
    capabilities: ["notify"],
  },
];

export function systemBlockChecksum(block: SystemBlock): string {
  return blockSchemaChecksum(block.fields);
}
