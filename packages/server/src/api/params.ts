import { Id } from "@baton/core";
import { z } from "zod";

/** `{id}` path parameters: a UUID, or a 422 naming `path.id`. */
export const IdParams = z.object({ id: Id });
