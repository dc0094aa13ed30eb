import { SYSTEM_BLOCKS, systemBlockChecksum } from "@baton/core";
import type { Database } from "../db/database.js";
import { createBlockSchema } from "../db/queries/block-schemas.js";
import { upsertBlockType } from "../db/queries/block-types.js";

/**
 * Installs (or refreshes) the system block types and their schemas. Idempotent, so every
 * server start runs it, as Prefect's does, and `POST /block_types/install_system_block_types`
 * runs it again on request.
 */
export async function installSystemBlockTypes(db: Database): Promise<void> {
  for (const block of SYSTEM_BLOCKS) {
    await db.write(async (trx) => {
      const type = await upsertBlockType(trx, { name: block.name, slug: block.slug, description: block.description }, block.isProtected);
      await createBlockSchema(trx, {
        fields: block.fields,
        block_type_id: type.id,
        capabilities: block.capabilities,
        version: "non-versioned",
        checksum: systemBlockChecksum(block),
      });
    });
  }
}
