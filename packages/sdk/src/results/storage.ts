import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, relative, resolve, sep } from "node:path";
import { importModule } from "@baton/core";
import { InvalidOptionError, LockTimeoutError } from "../errors.js";
import { currentSettings } from "../settings.js";

/**
 * Where result records live: a flat namespace of keys holding bytes, as Prefect's
 * `WritableFileSystem` blocks (`read_path` / `write_path`). Baton ships `LocalFileSystem`
 * (the default) and `S3Bucket` (any S3-compatible object store); anything implementing this
 * interface can be passed as `resultStorage`.
 */
export interface ResultStorage {
  /** The block type this storage corresponds to (`local-file-system`, `s3-bucket`, or your own). */
  readonly blockTypeSlug: string;
  /** When the storage was loaded from a block document: its id, written into each record's metadata. */
  readonly blockDocumentId?: string | null;
  /** Human-readable location, for errors ("/home/me/.baton/storage", "s3://bucket/prefix"). */
  describe(): string;
  /** The bytes at `key`, or `undefined` when there is nothing there. */
  readPath(key: string): Promise<Buffer | undefined>;
  writePath(key: string, data: Buffer): Promise<void>;
  deletePath(key: string): Promise<void>;
  /** Every key in the storage (for `pruneExpiredRecords`); absent when the storage cannot list. */
  listPaths?(): AsyncIterable<string>;
  /** A lock per key across processes, for SERIALIZABLE transactions; absent when the storage has none. */
  readonly locks?: LockManager;
}

/** Exclusive locks by key (SERIALIZABLE transactions). */
export interface LockManager {
  /** Waits until the lock on `key` is held by this caller (at most `timeoutSeconds`), then returns its release. */
  acquire(key: string, timeoutSeconds: number): Promise<() => Promise<void>>;
}

/** `localStoragePath` (`BATON_LOCAL_STORAGE_PATH`), else `$BATON_HOME/storage` (`~/.baton/storage`), read at each call. */
export function defaultLocalStoragePath(env: NodeJS.ProcessEnv = process.env): string {
  const configured = currentSettings(env).localStoragePath?.trim();
  if (configured) return resolve(configured);
  const home = env.BATON_HOME?.trim() || join(homedir(), ".baton");
  return join(home, "storage");
}

/**
 * Result records as files under `basepath` (a key `a/b` is the file `basepath/a/b`). Files
 * are written under a temporary name and renamed, so a reader never sees half a record; a key
 * that would leave `basepath` (`../x`) is refused. Several processes and machines can share
 * one folder (a network mount): that is how a later process reads results and cache hits.
 * SERIALIZABLE transactions lock with lock folders in `basepath/.locks/` (proper-lockfile:
 * refreshed while held, taken over when a holder stops refreshing it for `staleSeconds`, 2 s at
 * least).
 *
 * @example
 * import { LocalFileSystem, task } from "@baton/sdk";
 * const t = task({ persistResult: true, resultStorage: new LocalFileSystem({ basepath: "/mnt/shared/results" }) }, function t() { return 1; });
 */
export class LocalFileSystem implements ResultStorage {
  readonly blockTypeSlug = "local-file-system";
  readonly blockDocumentId: string | null;
  readonly locks: LockManager;
  private readonly fixedBasepath: string | undefined;

  constructor(options: { basepath?: string; blockDocumentId?: string | null; staleSeconds?: number } = {}) {
    if (options.basepath !== undefined && (typeof options.basepath !== "string" || options.basepath.trim() === "")) {
      throw new InvalidOptionError("LocalFileSystem.basepath", "must be a non-empty path");
    }
    // proper-lockfile raises any stale time under 2 s (0, a negative, NaN) to 2 s, so a bad
    // value would run silently with a stale time nobody asked for: refused, naming the field,
    // as S3Bucket.lockStaleSeconds is. Values between 0 and 2 are accepted and raised to 2 s.
    const staleSeconds = staleSecondsOption("LocalFileSystem.staleSeconds", options.staleSeconds ?? 10);
    this.fixedBasepath = options.basepath === undefined ? undefined : resolve(options.basepath);
    this.blockDocumentId = options.blockDocumentId ?? null;
    this.locks = new FileLocks(() => join(this.basepath, ".locks"), staleSeconds);
  }

  /** The folder: the one given, else the default (`BATON_LOCAL_STORAGE_PATH` / `$BATON_HOME/storage`) as it is now. */
  get basepath(): string {
    return this.fixedBasepath ?? defaultLocalStoragePath();
  }

  describe(): string {
    return this.basepath;
  }

  pathOf(key: string): string {
    const base = this.basepath;
    const path = resolve(base, key);
    if (key === "" || !path.startsWith(base + sep)) throw new InvalidOptionError("storage key", `'${key}' is not a path inside ${base}`);
    return path;
  }

  async readPath(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(this.pathOf(key));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ENOTDIR") return undefined;
      throw error;
    }
  }

  async writePath(key: string, data: Buffer): Promise<void> {
    const path = this.pathOf(key);
    await mkdir(dirname(path), { recursive: true });
    const temporary = `${path}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
    await writeFile(temporary, data, { mode: 0o600 });
    await rename(temporary, path);
  }

  async deletePath(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }

  /**
   * Every file under the folder as a key (`a/b`), leaving out lock folders and files still
   * being written. It walks one folder at a time, joining each entry to the folder it listed:
   * a recursive `readdir` names an entry's folder in `Dirent.parentPath`, which Node before
   * 20.12 does not set.
   */
  async *listPaths(): AsyncIterable<string> {
    const base = this.basepath;
    const folders = [base];
    for (let folder = folders.pop(); folder !== undefined; folder = folders.pop()) {
      let entries;
      try {
        entries = await readdir(folder, { withFileTypes: true });
      } catch (error) {
        // Gone meanwhile (or never made): nothing to list there.
        if ((error as NodeJS.ErrnoException).code === "ENOENT") continue;
        throw error;
      }
      for (const entry of entries) {
        const path = join(folder, entry.name);
        if (entry.isDirectory()) {
          if (!(folder === base && entry.name === ".locks")) folders.push(path);
        } else if (entry.isFile() && !entry.name.endsWith(".tmp")) {
          yield relative(base, path).split(sep).join("/");
        }
      }
    }
  }

  /** True when a file is at `key` (used by tests and tools; readers use readPath). */
  async exists(key: string): Promise<boolean> {
    try {
      return (await stat(this.pathOf(key))).isFile();
    } catch {
      return false;
    }
  }
}

/** A lock's stale time as given (`field` names the option): a number of seconds above 0, else InvalidOptionError. */
export function staleSecondsOption(field: string, value: unknown): number {
  if (typeof value === "number" && Number.isFinite(value) && value > 0) return value;
  throw new InvalidOptionError(field, `must be a number of seconds above 0, got ${typeof value === "string" ? JSON.stringify(value) : String(value)}`);
}

/** Seconds since `started`, to a tenth (for `LockTimeoutError`). */
export function waitedSeconds(started: number): number {
  return Math.round((Date.now() - started) / 100) / 10;
}

type ProperLockfile = typeof import("proper-lockfile");

class FileLocks implements LockManager {
  constructor(
    private readonly folder: () => string,
    private readonly staleSeconds: number,
  ) {}

  async acquire(key: string, timeoutSeconds: number): Promise<() => Promise<void>> {
    const lockfile = await loadLockfile();
    const folder = this.folder();
    await mkdir(folder, { recursive: true });
    // One file per key, named by a hash-free escape so any key maps to one flat file name.
    const target = join(folder, encodeURIComponent(key));
    const started = Date.now();
    const deadline = started + timeoutSeconds * 1000;
    for (let pause = 20; ; pause = Math.min(pause * 2, 500)) {
      try {
        const release = await lockfile.lock(target, { realpath: false, stale: this.staleSeconds * 1000, update: Math.max(1000, (this.staleSeconds * 1000) / 2) });
        return async () => {
          await release().catch(() => undefined);
        };
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ELOCKED") throw error;
        if (Date.now() >= deadline) throw new LockTimeoutError(key, waitedSeconds(started), timeoutSeconds, `${target}.lock`);
        await new Promise((r) => setTimeout(r, pause));
      }
    }
  }
}

let lockfileModule: Promise<ProperLockfile> | undefined;
/** Loaded on first use: most processes never lock, and a run process should not pay for it. */
function loadLockfile(): Promise<ProperLockfile> {
  lockfileModule ??= importModule<{ default?: ProperLockfile } & ProperLockfile>(import.meta.resolve("proper-lockfile")).then((m) => m.default ?? m);
  return lockfileModule;
}
