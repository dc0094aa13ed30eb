import { createHash } from "node:crypto";
import { InvalidOptionError } from "../errors.js";
import { hashKey, stableStringify, type CacheKeyContext } from "./keys.js";

/** What a cache policy sees of a task call. */
export interface CachePolicyContext<A extends unknown[] = unknown[]> extends CacheKeyContext<A> {
  /** The task function's source text (`fn.toString()`). */
  taskSource: string;
  /** The run's id (the task run's own when it runs outside a flow). */
  taskRunId: string;
  /** The enclosing flow run's parameters, if any. */
  flowParameters: Record<string, unknown> | undefined;
}

/**
 * How a task call's cache key is computed (Prefect 3's cache policies). A key of `undefined`
 * means "do not cache this call". Combine policies with `.add()` (Prefect's `+`) or a list:
 * the key is then a hash of every part's key.
 *
 * @example
 * import { CachePolicies, task } from "@baton/sdk";
 * const fetchPage = task({ cachePolicy: CachePolicies.INPUTS.add(CachePolicies.TASK_SOURCE), cacheExpiration: 3600 }, async function fetchPage(url: string) {
 *   return (await fetch(url)).text();
 * });
 */
export abstract class CachePolicy {
  abstract readonly name: string;
  abstract computeKey(context: CachePolicyContext): string | undefined;

  /** This policy and `other` together: a key that changes when either part's does. */
  add(other: CachePolicy): CachePolicy {
    return CompoundCachePolicy.of([this, other]);
  }
}

class CompoundCachePolicy extends CachePolicy {
  readonly name: string;
  private constructor(readonly policies: readonly CachePolicy[]) {
    super();
    this.name = policies.map((p) => p.name).join(" + ");
  }

  static of(policies: readonly CachePolicy[]): CachePolicy {
    const flat = policies.flatMap((p) => (p instanceof CompoundCachePolicy ? p.policies : [p])).filter((p) => !(p instanceof NoCachePolicy));
    if (flat.length === 0) return NONE;
    if (flat.length === 1) return flat[0] as CachePolicy;
    return new CompoundCachePolicy(flat);
  }

  computeKey(context: CachePolicyContext): string | undefined {
    const keys = this.policies.map((p) => p.computeKey(context)).filter((k): k is string => k !== undefined);
    return keys.length === 0 ? undefined : hashKey(...keys);
  }
}

class NoCachePolicy extends CachePolicy {
  readonly name = "NONE";
  computeKey(): undefined {
    return undefined;
  }
  override add(other: CachePolicy): CachePolicy {
    return other;
  }
}

class InputsPolicy extends CachePolicy {
  readonly name: string;
  constructor(private readonly excluded: readonly string[] = []) {
    super();
    this.name = excluded.length === 0 ? "INPUTS" : `INPUTS(exclude: ${excluded.join(", ")})`;
  }
  computeKey(context: CachePolicyContext): string {
    const parameters = Object.fromEntries(Object.entries(context.parameters).filter(([name]) => !this.excluded.includes(name)));
    return hashKey("inputs", stableStringify(parameters));
  }
  /** The same policy, not counting the named parameters (Prefect's `INPUTS - "name"`). */
  exclude(...names: string[]): InputsPolicy {
    return new InputsPolicy([...this.excluded, ...names]);
  }
}

class TaskSourcePolicy extends CachePolicy {
  readonly name = "TASK_SOURCE";
  computeKey(context: CachePolicyContext): string {
    return createHash("sha256").update("task_source:").update(context.taskSource).digest("hex");
  }
}

class FlowParametersPolicy extends CachePolicy {
  readonly name = "FLOW_PARAMETERS";
  computeKey(context: CachePolicyContext): string | undefined {
    return context.flowParameters === undefined ? undefined : hashKey("flow_parameters", stableStringify(context.flowParameters));
  }
}

class RunIdPolicy extends CachePolicy {
  readonly name = "RUN_ID";
  computeKey(context: CachePolicyContext): string {
    return hashKey("run_id", context.flowRunId ?? context.taskRunId);
  }
}

/** A policy from a `cacheKeyFn` (its key, used as it is). */
export class CacheKeyFnPolicy extends CachePolicy {
  readonly name = "cacheKeyFn";
  constructor(private readonly fn: (context: CacheKeyContext) => string | null | undefined) {
    super();
  }
  computeKey(context: CachePolicyContext): string | undefined {
    return this.fn(context) ?? undefined;
  }
}

const NONE: CachePolicy = new NoCachePolicy();
const INPUTS = new InputsPolicy();
const TASK_SOURCE: CachePolicy = new TaskSourcePolicy();
const RUN_ID: CachePolicy = new RunIdPolicy();

/**
 * Prefect 3's cache policies:
 *
 * - `INPUTS`: the call's arguments by parameter name (`INPUTS.exclude("client")` leaves some out);
 * - `TASK_SOURCE`: the task function's source code;
 * - `FLOW_PARAMETERS`: the enclosing flow run's parameters;
 * - `RUN_ID`: the flow run (or, outside a flow, the task run) id, so only calls of one run share;
 * - `NONE`: never cache;
 * - `DEFAULT` = `INPUTS + TASK_SOURCE + RUN_ID`, what a persisted task caches by when it names no policy.
 */
export const CachePolicies = {
  NONE,
  INPUTS,
  TASK_SOURCE,
  FLOW_PARAMETERS: new FlowParametersPolicy() as CachePolicy,
  RUN_ID,
  DEFAULT: CompoundCachePolicy.of([INPUTS, TASK_SOURCE, RUN_ID]),
} as const;

/** A task's `cachePolicy` option (a policy or a list of them) as one policy. */
export function toCachePolicy(option: CachePolicy | readonly CachePolicy[], field = "task.cachePolicy"): CachePolicy {
  const list = Array.isArray(option) ? option : [option];
  list.forEach((p, i) => {
    if (!(p instanceof CachePolicy)) throw new InvalidOptionError(Array.isArray(option) ? `${field}.${i}` : field, "must be a cache policy (CachePolicies.INPUTS, ...) or a list of them");
  });
  return CompoundCachePolicy.of(list as CachePolicy[]);
}

export function isNoCache(policy: CachePolicy): boolean {
  return policy instanceof NoCachePolicy;
}
