import { z } from "zod";
import { readBlockCapabilities } from "../db/queries/block-schemas.js";
import type { ApiContext } from "./context.js";

export function registerBlockCapabilityRoutes({ router, db }: ApiContext): void {
  router.route({
    method: "GET",
    path: "/block_capabilities/",
    tag: "Block capabilities",
    summary: "Every capability some block schema declares",
    response: z.array(z.string()),
    handler: () => readBlockCapabilities(db.kysely),
  });
}
