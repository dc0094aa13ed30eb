import { ApiError, BatonError, type ConcurrencyLeaseHolder, type ConcurrencyLimitWithLease, type MinimalConcurrencyLimit } from "@baton/core";
import type { BatonClient } from "./client.js";
import { currentRun } from "./context.js";
import { openSession, type ApiSession } from "./ephemeral.js";
import { InvalidOptionError } from "./errors.js";
import { gateKey, releasedAt, throughGate, type Attempt } from "./slot-gate.js";

export interface ConcurrencyOptions {
  /** Slots to take of each limit (default 1). */
  occupy?: number;
  /** Give up waiting for the slots after this long, with an AcquireConcurrencySlotTimeoutError (default: wait as long as it takes). */
  timeoutSeconds?: number;
  /**
   * How long the server keeps the slots if this process stops renewing them (it renews while
   * the code runs): a process that dies gives its slots back this long after (default 300 s,
   * at least 60 s).
   */
  leaseDurationSeconds?: number;
  /** A named limit that does not exist is an error rather than no limit at all (default false). */
  strict?: boolean;
}

export type RateLimitOptions = Omit<ConcurrencyOptions, "leaseDurationSeconds">;

/** The slots could not be taken within `timeoutSeconds`. */
export class AcquireConcurrencySlotTimeoutError extends BatonError {
  override name = "AcquireConcurrencySlotTimeoutError";
  constructor(
    readonly names: readonly string[],
    readonly timeoutSeconds: number,
  ) {
    super(`Could not take slots of concurrency limit(s) ${names.map((n) => `'${n}'`).join(", ")} within ${timeoutSeconds} s`);
  }
}

/** `strict: true` and a named limit does not exist (or is inactive). */
export class ConcurrencyLimitMissingError extends BatonError {
  override name = "ConcurrencyLimitMissingError";
  constructor(readonly missing: readonly string[]) {
    super(`No active concurrency limit named ${missing.map((n) => `'${n}'`).join(", ")}; create it with \`baton gcl create NAME --limit N\``);
  }
}

/** Slots taken under a lease; `release()` gives them back (once). */
export interface ConcurrencySlots {
  readonly leaseId: string;
  readonly limits: readonly MinimalConcurrencyLimit[];
  release(): Promise<void>;
}

/** A wait the server asked for, with some jitter so that a crowd refused together spreads out. */
const DEFAULT_RETRY_SECONDS = 1;

/**
 * Runs `fn` while holding `occupy` slots of every named global concurrency limit (Prefect's
 * `concurrency()` context manager): waits until all are free, takes them under a lease that
 * is renewed while `fn` runs, and gives them back when it returns or throws. Limits that do
 * not exist do not limit anything unless `strict` is set.
 *
 * @example
 * import { concurrency, flow } from "@baton/sdk";
 * const load = flow(async function load(rows: string[]) {
 *   await concurrency("warehouse", { occupy: 1, timeoutSeconds: 60 }, () => insert(rows));
 * });
 */
export async function concurrency<T>(names: string | readonly string[], fn: () => Promise<T> | T): Promise<T>;
export async function concurrency<T>(names: string | readonly string[], options: ConcurrencyOptions, fn: () => Promise<T> | T): Promise<T>;
export async function concurrency<T>(
  names: string | readonly string[],
  optionsOrFn: ConcurrencyOptions | (() => Promise<T> | T),
  maybeFn?: () => Promise<T> | T,
): Promise<T> {
  const [options, fn] = typeof optionsOrFn === "function" ? [{}, optionsOrFn] : [optionsOrFn, maybeFn];
  if (typeof fn !== "function") throw new InvalidOptionError("fn", "must be the function to run while holding the slots");
  const slots = await acquireConcurrencySlots(names, options);
  try {
    return await fn();
  } finally {
    await slots.release();
  }
}

/**
 * Takes the slots as `concurrency()` does, for code that cannot wrap what it guards in one
 * function; call `release()` when done (a process that dies without it gives the slots back
 * when the lease expires).
 */
export async function acquireConcurrencySlots(names: string | readonly string[], options: ConcurrencyOptions = {}): Promise<ConcurrencySlots> {
  const list = checkNames(names);
  const occupy = checkOccupy(options.occupy);
  const leaseSeconds = options.leaseDurationSeconds ?? 300;
  if (!Number.isFinite(leaseSeconds) || leaseSeconds < 60 || leaseSeconds > 86_400) {
    throw new InvalidOptionError("leaseDurationSeconds", "must be between 60 and 86400 seconds");
  }
  const session = await sessionFor();
  try {
    const granted = await acquireWithRetries<ConcurrencyLimitWithLease>(session.client, list, options, "/v2/concurrency_limits/increment-with-lease", {
      names: list,
      slots: occupy,
      mode: "concurrency",
      lease_duration: leaseSeconds,
      holder: currentHolder(),
    });
    const missing = options.strict ? missingNames(list, granted.limits) : [];
    if (missing.length > 0) {
      await session.client.request("POST", "/v2/concurrency_limits/decrement-with-lease", { lease_id: granted.lease_id });
      throw new ConcurrencyLimitMissingError(missing);
    }
    return leaseKeeper(session, granted, leaseSeconds, gateKey(session.client.apiUrl, "concurrency", list));
  } catch (error) {
    await session.release();
    throw error;
  }
}

/**
 * Waits until every named rate limit (a global limit with `slot_decay_per_second`) admits
 * `occupy` more, and takes them: they are not given back but leak away at the limit's decay
 * rate, so a limit of N with a decay of N per second admits N calls per second (Prefect's
 * `rate_limit()`).
 *
 * @example
 * for (const url of urls) {
 *   await rateLimit("github-api");
 *   await fetch(url);
 * }
 */
export async function rateLimit(names: string | readonly string[], options: RateLimitOptions = {}): Promise<void> {
  const list = checkNames(names);
  const occupy = checkOccupy(options.occupy);
  const session = await sessionFor();
  try {
    const limits = await acquireWithRetries<MinimalConcurrencyLimit[]>(session.client, list, options, "/v2/concurrency_limits/increment", {
      names: list,
      slots: occupy,
      mode: "rate_limit",
    });
    const missing = options.strict ? missingNames(list, limits) : [];
    if (missing.length > 0) throw new ConcurrencyLimitMissingError(missing);
  } finally {
    await session.release();
  }
}

function checkNames(names: string | readonly string[]): string[] {
  const list = typeof names === "string" ? [names] : [...names];
  if (list.length === 0 || list.some((n) => typeof n !== "string" || n.length === 0)) {
    throw new InvalidOptionError("names", "must be one or more non-empty limit names");
  }
  return list;
}

function checkOccupy(occupy: number | undefined): number {
  const slots = occupy ?? 1;
  if (!Number.isInteger(slots) || slots < 1) throw new InvalidOptionError("occupy", "must be a whole number of slots, at least 1");
  return slots;
}

function missingNames(names: readonly string[], limits: readonly MinimalConcurrencyLimit[]): string[] {
  const found = new Set(limits.map((l) => l.name));
  return names.filter((n) => !found.has(n));
}

/** The current run's session (no new connection inside a flow), or one of its own outside any run. */
async function sessionFor(): Promise<ApiSession> {
  const run = currentRun();
  if (run) return { client: run.session.client, logs: run.session.logs, release: async () => undefined };
  return openSession();
}

function currentHolder(): ConcurrencyLeaseHolder | null {
  const run = currentRun();
  if (!run) return null;
  return run.kind === "task" ? { type: "task_run", id: run.taskRun.id } : { type: "flow_run", id: run.flowRun.id };
}

/**
 * POSTs until granted; a 423 waits the server's Retry-After (or less, when this process gives
 * back a slot of the same limits first), within the timeout. Callers in this process for the
 * same limits queue at one gate (slot-gate.ts), so only one of them polls the server.
 */
async function acquireWithRetries<T>(client: BatonClient, names: readonly string[], options: RateLimitOptions, path: string, body: { mode: string; [field: string]: unknown }): Promise<T> {
  const timeout = options.timeoutSeconds;
  if (timeout !== undefined && (!Number.isFinite(timeout) || timeout < 0)) {
    throw new InvalidOptionError("timeoutSeconds", "must be a number of seconds, 0 or more");
  }
  const deadline = timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + timeout * 1000;
  const attempt = async (): Promise<Attempt<T>> => {
    try {
      return { granted: await client.request<T>("POST", path, body) };
    } catch (error) {
      if (!(error instanceof ApiError) || error.status !== 423) throw error;
      if (error.retryAfterSeconds === undefined) throw error; // a limit of 0: waiting cannot help
      return { retryAfterMs: Math.max(5, (error.retryAfterSeconds ?? DEFAULT_RETRY_SECONDS) * 1000) };
    }
  };
  return throughGate(gateKey(client.apiUrl, body.mode, names), (gate) => gate.acquire(attempt, deadline, () => new AcquireConcurrencySlotTimeoutError(names, timeout ?? 0)));
}

/** Renews the lease at a third of its duration until released; a lost lease is reported once. */
function leaseKeeper(session: ApiSession, granted: ConcurrencyLimitWithLease, leaseSeconds: number, gate: string): ConcurrencySlots {
  let released: Promise<void> | undefined;
  const renew = async () => {
    try {
      await session.client.request("POST", `/v2/concurrency_limits/leases/${granted.lease_id}/renew`, { lease_duration: leaseSeconds });
    } catch (error) {
      if (error instanceof ApiError && error.status === 410) {
        clearInterval(timer);
        const message = `The concurrency lease ${granted.lease_id} expired before it could be renewed; its slots were given back to others`;
        const logger = currentRun()?.logger;
        if (logger) logger.warning(message);
        else process.emitWarning(message);
      }
      // Other failures (a server restarting) are retried at the next interval.
    }
  };
  const timer = setInterval(() => void renew(), (leaseSeconds * 1000) / 3);
  timer.unref();
  return {
    leaseId: granted.lease_id,
    limits: granted.limits,
    release() {
      released ??= (async () => {
        clearInterval(timer);
        try {
          await session.client.request("POST", "/v2/concurrency_limits/decrement-with-lease", { lease_id: granted.lease_id });
          releasedAt(gate);
        } finally {
          await session.release();
        }
      })();
      return released;
    },
  };
}
