import type { DialectOps } from "../dialect.js";
import * as m0001 from "./0001-initial.js";
import * as m0002 from "./0002-work-pools-services.js";
import * as m0003 from "./0003-concurrency-limits.js";
import * as m0004 from "./0004-flow-run-inputs.js";
import * as m0005 from "./0005-variables-artifacts.js";
import * as m0006 from "./0006-blocks.js";
import * as m0007 from "./0007-saved-searches.js";
import * as m0008 from "./0008-configuration.js";
import * as m0010 from "./0010-automations.js";
import * as m0011 from "./0011-event-related-index.js";
import * as m0012 from "./0012-trigger-states.js";

export interface Migration {
  version: number;
  name: string;
  /** The statements of this migration for a dialect, run in order inside one transaction. */
  up(dialect: DialectOps): string[];
}

/** Every migration, in order. A new one gets the next number and is appended here. */
export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: "initial", up: m0001.up },
  { version: 2, name: "work-pools-services", up: m0002.up },
  { version: 3, name: "concurrency-limits", up: m0003.up },
  { version: 4, name: "flow-run-inputs", up: m0004.up },
  { version: 5, name: "variables-artifacts", up: m0005.up },
  { version: 6, name: "blocks", up: m0006.up },
  { version: 7, name: "saved-searches", up: m0007.up },
  { version: 8, name: "configuration", up: m0008.up },
  // 9 was reserved for events work that needed no table; versions need not be contiguous.
  { version: 10, name: "automations", up: m0010.up },
  { version: 11, name: "event-related-index", up: m0011.up },
  { version: 12, name: "trigger-states", up: m0012.up },
];
