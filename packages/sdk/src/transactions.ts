import { AsyncLocalStorage } from "node:async_hooks";
import type { ResultRecordMetadata } from "@baton/core";
import { currentRun } from "./context.js";
import { InvalidOptionError, UnreadableResultRecordError, UnsupportedIsolationLevelError } from "./errors.js";
import { currentStore } from "./context.js";
import { describeError } from "./results/serializer.js";
import { JsonSerializer } from "./results/serializers.js";
import { prepareRecord, readRecord, writeRecord, type PreparedRecord } from "./results/store.js";
import { defaultResultStorage } from "./results/resolve.js";
import type { ResultStorage } from "./results/storage.js";

/**
 * Transactions, as Prefect 3's: a block of work whose tasks commit together or roll back
 * together, and that runs at most once per key.
 *
 * - On entry a transaction with a `key` looks for its record at that key in its storage; if
 *   there is one (and not `overwrite`), it is COMMITTED already: each task called inside it
 *   returns the result it returned when the record was written (matched by task and call
 *   order) instead of running, as an idempotent re-run should.
 * - A task that completes inside it stages its result record and its `onCommit` /
 *   `onRollback` hooks. When the block returns, the transaction commits (LAZY, the default):
 *   `onCommit` hooks run, the staged records are written, and its own record is written at
 *   `key`. When the block throws, or a task in it fails, it rolls back: `onRollback` hooks
 *   run in reverse order and nothing is written.
 * - `commitMode`: `LAZY` (commit when the outermost transaction ends), `EAGER` (each task and
 *   nested transaction commits as soon as it finishes), `OFF` (never commit; roll back at the end).
 * - `isolationLevel`: `READ_COMMITTED` (default) or `SERIALIZABLE`, which holds a lock on the
 *   key from entry to commit or rollback, so a second process with the same key waits and
 *   then finds the first one's record. Only LocalFileSystem storage has locks (lock files).
 */
export type CommitMode = "EAGER" | "LAZY" | "OFF";
export type IsolationLevel = "READ_COMMITTED" | "SERIALIZABLE";
export type TransactionState = "PENDING" | "ACTIVE" | "STAGED" | "COMMITTED" | "ROLLED_BACK";

export interface TransactionOptions {
  /** The record's key: the same key runs at most once (until its record is deleted, or `overwrite`). */
  key?: string;
  /** Default: the enclosing transaction's, else LAZY. */
  commitMode?: CommitMode;
  /** Default: the enclosing transaction's, else READ_COMMITTED. */
  isolationLevel?: IsolationLevel;
  /** Where the transaction's record goes; default: the result storage the flow would use. */
  storage?: ResultStorage;
  /** Run and commit again even when a record for the key exists. */
  overwrite?: boolean;
  /** SERIALIZABLE: how long to wait for another holder of the key's lock (default 300). */
  lockTimeoutSeconds?: number;
}

/** What a task's `onCommit` / `onRollback` hook receives. */
export interface TransactionHookContext {
  /** The enclosing transaction, or undefined for a task outside any (its own implicit one). */
  transaction: Transaction | undefined;
  taskName: string;
  taskRunId: string;
  /** The task's return value. */
  result: unknown;
}
export type TransactionHook = (context: TransactionHookContext) => void | Promise<void>;

interface Staged {
  slot: string;
  metadata: ResultRecordMetadata | undefined;
  record: PreparedRecord | undefined;
  onCommit: () => Promise<void>;
  onRollback: () => Promise<void>;
}

/** The body of a transaction's own record: the results of its tasks, by slot (`<task_key>#<n>`). */
interface TransactionRecordBody {
  tasks: Record<string, ResultRecordMetadata | null>;
}

const COMMIT_MODES: readonly CommitMode[] = ["EAGER", "LAZY", "OFF"];
const ISOLATION_LEVELS: readonly IsolationLevel[] = ["READ_COMMITTED", "SERIALIZABLE"];

const transactionStore = new AsyncLocalStorage<Transaction>();

/** The innermost transaction open around the calling code, if any. */
export function getTransaction(): Transaction | undefined {
  return transactionStore.getStore();
}

export class Transaction {
  readonly key: string | undefined;
  readonly commitMode: CommitMode;
  readonly isolationLevel: IsolationLevel;
  readonly parent: Transaction | undefined;
  state: TransactionState = "PENDING";
  private readonly children: Transaction[] = [];
  private readonly values = new Map<string, unknown>();
  private readonly staged: Staged[] = [];
  private readonly slots = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private stored: TransactionRecordBody | undefined;
  private releaseLock: (() => Promise<void>) | undefined;
  private storage: ResultStorage | undefined;

  /** @internal Use `transaction()`. */
  constructor(
    private readonly options: TransactionOptions,
    parent: Transaction | undefined,
  ) {
    this.parent = parent;
    this.key = options.key;
    this.commitMode = options.commitMode ?? parent?.commitMode ?? "LAZY";
    this.isolationLevel = options.isolationLevel ?? parent?.isolationLevel ?? "READ_COMMITTED";
  }

  /** Keeps a value for the rest of the transaction (and its nested ones). */
  set(name: string, value: unknown): void {
    this.values.set(name, structuredClone(value));
  }

  /** A value set in this transaction or an enclosing one; `fallback` (or an error) when there is none. */
  get<T = unknown>(name: string, ...fallback: [T?]): T {
    if (this.values.has(name)) return structuredClone(this.values.get(name)) as T;
    if (this.parent !== undefined) return this.parent.get<T>(name, ...fallback);
    if (fallback.length > 0) return fallback[0] as T;
    throw new InvalidOptionError("transaction.get", `no value named '${name}' in this transaction`);
  }

  isCommitted(): boolean {
    return this.state === "COMMITTED";
  }
  isRolledBack(): boolean {
    return this.state === "ROLLED_BACK";
  }
  isActive(): boolean {
    return this.state === "ACTIVE" || this.state === "STAGED";
  }

  /** @internal A task run started in this transaction: it is waited for before the transaction ends. */
  track(run: Promise<unknown>): void {
    const settled = run.then(
      () => undefined,
      () => undefined,
    );
    this.running.add(settled);
    void settled.then(() => this.running.delete(settled));
  }

  /** @internal Waits for the task runs started in this transaction. */
  async settle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** @internal The slot of the next call of a task in this transaction: its key and call number. */
  nextSlot(taskKey: string): string {
    const n = this.slots.get(taskKey) ?? 0;
    this.slots.set(taskKey, n + 1);
    return `${taskKey}#${n}`;
  }

  /** @internal The result reference a committed transaction recorded for a slot. */
  storedResult(slot: string): ResultRecordMetadata | undefined {
    return this.stored?.tasks[slot] ?? undefined;
  }

  /** @internal A task in this transaction completed: its record is written and its hooks run when the transaction commits. */
  async stage(entry: Staged): Promise<void> {
    if (this.state === "COMMITTED" && this.stored !== undefined) return;
    if (this.commitMode === "EAGER") {
      try {
        await entry.onCommit();
        if (entry.record !== undefined) await writeRecord(entry.record);
      } catch (error) {
        warn(`An error was encountered while committing a task of transaction '${this.key ?? "(no key)"}', so it rolls back: ${describeError(error)}`);
        await entry.onRollback().catch(() => undefined);
        await this.rollback();
        return;
      }
      this.staged.push({ ...entry, record: undefined, onCommit: async () => undefined, onRollback: async () => undefined });
    } else {
      this.staged.push(entry);
    }
    if (this.state === "ACTIVE") this.state = "STAGED";
  }

  /** @internal */
  async begin(): Promise<void> {
    this.state = "ACTIVE";
    if (this.key === undefined) return;
    const storage = await this.resolveStorage();
    if (this.isolationLevel === "SERIALIZABLE") {
      if (storage.locks === undefined) throw new UnsupportedIsolationLevelError(this.isolationLevel, storage.describe());
      this.releaseLock = await storage.locks.acquire(this.key, this.options.lockTimeoutSeconds ?? 300);
    }
    if (this.options.overwrite) return;
    const record = await readRecord(storage, this.key);
    if (record === undefined) return;
    const body = record.value as Partial<TransactionRecordBody> | null;
    if (body === null || typeof body !== "object" || typeof body.tasks !== "object" || body.tasks === null) {
      throw new UnreadableResultRecordError(this.key, storage.describe(), "it is not a transaction record (no `tasks`)");
    }
    this.stored = { tasks: body.tasks };
    this.state = "COMMITTED";
  }

  /** @internal Writes what was staged, runs the commit hooks, writes the record. False when it rolled back instead. */
  async commit(): Promise<boolean> {
    if (this.state === "COMMITTED" || this.state === "ROLLED_BACK") {
      await this.unlock();
      return false;
    }
    try {
      for (const child of this.children) await child.commit();
      // Hooks first, as Prefect's commit does: a hook that throws rolls back before anything is written.
      for (const entry of this.staged) await entry.onCommit();
      for (const entry of this.staged) if (entry.record !== undefined) await writeRecord(entry.record);
      if (this.key !== undefined && this.commitMode !== "OFF") {
        const tasks: Record<string, ResultRecordMetadata | null> = {};
        for (const entry of this.staged) tasks[entry.slot] = entry.metadata ?? null;
        const storage = await this.resolveStorage();
        await writeRecord(prepareRecord({ tasks } satisfies TransactionRecordBody, { storage, serializer: JsonSerializer, key: this.key }));
      }
      this.state = "COMMITTED";
      await this.unlock();
      return true;
    } catch (error) {
      warn(`An error was encountered while committing transaction '${this.key ?? "(no key)"}', so it rolls back: ${describeError(error)}`);
      await this.rollback();
      return false;
    }
  }

  /** @internal Runs the rollback hooks of what was staged (newest first), then of nested transactions. */
  async rollback(): Promise<boolean> {
    if (this.state === "COMMITTED" || this.state === "ROLLED_BACK") return false;
    this.state = "ROLLED_BACK";
    try {
      for (const entry of [...this.staged].reverse()) {
        try {
          await entry.onRollback();
        } catch (error) {
          warn(`An onRollback hook of transaction '${this.key ?? "(no key)"}' failed: ${describeError(error)}`);
        }
      }
      for (const child of [...this.children].reverse()) await child.rollback();
      if (this.parent !== undefined) await this.parent.rollback();
      return true;
    } finally {
      await this.unlock();
    }
  }

  /** @internal */
  adopt(child: Transaction): void {
    this.children.push(child);
  }

  /** @internal The storage of this transaction's record (and of the results of its tasks that name none). */
  async resolveStorage(): Promise<ResultStorage> {
    this.storage ??= this.options.storage ?? this.parent?.options.storage ?? (await defaultResultStorage(currentRun()?.session.client));
    return this.storage;
  }

  private async unlock(): Promise<void> {
    const release = this.releaseLock;
    this.releaseLock = undefined;
    await release?.();
  }
}

function warn(message: string): void {
  const run = currentStore()?.task ?? currentStore()?.flow;
  if (run !== undefined) run.logger.warning(message);
  else process.emitWarning(message, { code: "BATON_TRANSACTION" });
}

/**
 * Runs `fn` in a transaction (see above) and returns what it returns. A block that throws
 * rolls the transaction back and rethrows.
 *
 * @example
 * import { flow, task, transaction } from "@baton/sdk";
 * import { unlink, writeFile } from "node:fs/promises";
 *
 * const write = task({ onRollback: () => unlink("out.txt") }, async function write(text: string) {
 *   await writeFile("out.txt", text);
 * });
 * const check = task(async function check() { throw new Error("bad data"); });
 *
 * const pipeline = flow(async function pipeline() {
 *   await transaction({ key: "daily-2026-01-01" }, async (txn) => {
 *     await write("hello");
 *     await check();            // fails: the transaction rolls back and out.txt is removed
 *   });
 * });
 */
export async function transaction<T>(options: TransactionOptions, fn: (txn: Transaction) => T | Promise<T>): Promise<Awaited<T>> {
  validate(options);
  const parent = getTransaction();
  const txn = new Transaction(options, parent);
  await txn.begin();
  let value: Awaited<T>;
  try {
    value = await transactionStore.run(txn, async () => await fn(txn));
  } catch (error) {
    await txn.settle();
    await txn.rollback();
    throw error;
  }
  // Tasks submitted in the block and not awaited still belong to it.
  await txn.settle();
  if (txn.commitMode === "EAGER") await txn.commit();
  if (parent !== undefined) {
    parent.adopt(txn);
    if (txn.isRolledBack()) await parent.rollback();
  } else if (txn.commitMode === "OFF") {
    await txn.rollback();
  } else {
    await txn.commit();
  }
  return value;
}

function validate(options: TransactionOptions): void {
  if (options === null || typeof options !== "object") throw new InvalidOptionError("transaction", "expected transaction(options, fn)");
  if (options.key !== undefined && (typeof options.key !== "string" || options.key === "")) throw new InvalidOptionError("transaction.key", "must be a non-empty string");
  if (options.commitMode !== undefined && !COMMIT_MODES.includes(options.commitMode)) {
    throw new InvalidOptionError("transaction.commitMode", `must be one of ${COMMIT_MODES.join(", ")}`);
  }
  if (options.isolationLevel !== undefined && !ISOLATION_LEVELS.includes(options.isolationLevel)) {
    throw new InvalidOptionError("transaction.isolationLevel", `must be one of ${ISOLATION_LEVELS.join(", ")}`);
  }
  const timeout = options.lockTimeoutSeconds;
  if (timeout !== undefined && !(typeof timeout === "number" && Number.isFinite(timeout) && timeout > 0)) {
    throw new InvalidOptionError("transaction.lockTimeoutSeconds", "must be a number of seconds above 0");
  }
}
