import { BlockEncryption } from "../blocks/encryption.js";
import { installSystemBlockTypes } from "../blocks/system.js";
import type { BlockStore } from "../db/queries/block-documents.js";
import { registerBlockCapabilityRoutes } from "./block-capabilities.js";
import { registerBlockDocumentRoutes } from "./block-documents.js";
import { registerBlockSchemaRoutes } from "./block-schemas.js";
import { registerBlockTypeRoutes } from "./block-types.js";
import type { ApiContext } from "./context.js";

/**
 * The four block route groups share one at-rest cipher. The system block types are installed
 * here, before the server listens, as Prefect's server registers its blocks at start.
 */
export async function registerBlockRoutes(context: ApiContext): Promise<void> {
  const store: BlockStore = { db: context.db, encryption: new BlockEncryption(context.config) };
  await installSystemBlockTypes(context.db);
  registerBlockTypeRoutes(context, store);
  registerBlockSchemaRoutes(context);
  registerBlockDocumentRoutes(context, store);
  registerBlockCapabilityRoutes(context);
}
