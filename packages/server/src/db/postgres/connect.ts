import pg from "pg";
import { Kysely, PostgresDialect } from "kysely";
import type { DB } from "../schema.js";

const OID = { INT8: 20, JSON: 114, JSONB: 3802, TIMESTAMP: 1114, TIMESTAMPTZ: 1184 } as const;

/** pg hands timestamps back as ISO strings and JSON as text, matching what SQLite returns. */
function typeParser(oid: number, format?: string): (value: string) => unknown {
  switch (oid) {
    case OID.JSON:
    case OID.JSONB:
      return (value) => value;
    case OID.TIMESTAMPTZ:
    case OID.TIMESTAMP:
      return (value) => new Date(value.replace(" ", "T").replace(/([+-]\d\d)$/, "$1:00")).toISOString();
    case OID.INT8:
      return (value) => Number(value);
    default:
      return pg.types.getTypeParser(oid, format as "text");
  }
}

export function connectPostgres(
  url: string,
  options: { schema: string | undefined; poolSize: number },
): { kysely: Kysely<DB>; close: () => Promise<void>; pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: url,
    max: options.poolSize,
    options: options.schema ? `-c search_path=${options.schema}` : undefined,
    types: { getTypeParser: typeParser as typeof pg.types.getTypeParser },
  });
  // An idle client that loses its connection emits 'error'; without a listener it would
  // take the process down. The next query simply gets a fresh connection.
  pool.on("error", () => undefined);
  const kysely = new Kysely<DB>({ dialect: new PostgresDialect({ pool }) });
  return { kysely, close: () => kysely.destroy(), pool };
}
