import { randomUUID } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Where the parameters of a background task run (`task.delay()`) wait for the task worker
 * that runs it: the run's SCHEDULED state names them by `state_details.task_parameters_id`,
 * as Prefect's does. Prefect keeps them in result storage; this interface is the narrow part
 * the SDK needs, so the file store can give way to result storage later.
 */
export interface ParametersStore {
  /** Stores a call's parameters under a new id and returns it. */
  write(parameters: StoredTaskParameters): Promise<string>;
  /** The parameters stored under `id`; throws `MissingParametersError` when there are none. */
  read(id: string): Promise<StoredTaskParameters>;
  delete(id: string): Promise<void>;
}

/** What is stored for a call: its parameters by name (`namedParameters`). */
export interface StoredTaskParameters {
  parameters: Record<string, unknown>;
}

export class MissingParametersError extends Error {
  override name = "MissingParametersError";
  constructor(
    readonly parametersId: string,
    readonly location: string,
  ) {
    super(`The parameters of this background task run (${parametersId}) are not in ${location}: was it delayed on another machine, or BATON_HOME set differently?`);
  }
}

/**
 * JSON files at `$BATON_HOME/storage/parameters/<id>` (BATON_HOME defaults to `~/.baton`, as
 * the server's), read at each call so a test or a process can point it elsewhere. The code
 * that delays a task and the task worker must see the same folder. A file is written under a
 * temporary name and renamed, so a worker never reads half of one.
 */
export class FileParametersStore implements ParametersStore {
  constructor(private readonly folder: () => string = defaultParametersFolder) {}

  async write(parameters: StoredTaskParameters): Promise<string> {
    const id = randomUUID();
    const folder = this.folder();
    await mkdir(folder, { recursive: true });
    const path = join(folder, id);
    const temporary = `${path}.${process.pid}.tmp`;
    await writeFile(temporary, JSON.stringify(parameters), { mode: 0o600 });
    await rename(temporary, path);
    return id;
  }

  async read(id: string): Promise<StoredTaskParameters> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) throw new MissingParametersError(id, this.folder());
    let text: string;
    try {
      text = await readFile(join(this.folder(), id), "utf8");
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === "ENOENT") throw new MissingParametersError(id, this.folder());
      throw error;
    }
    const parsed = JSON.parse(text) as Partial<StoredTaskParameters>;
    return { parameters: parsed.parameters ?? {} };
  }

  async delete(id: string): Promise<void> {
    if (!/^[0-9a-f-]{36}$/i.test(id)) return;
    await rm(join(this.folder(), id), { force: true });
  }
}

export function defaultParametersFolder(): string {
  const home = process.env.BATON_HOME?.trim() || join(homedir(), ".baton");
  return join(home, "storage", "parameters");
}

/** The store `delay()` and `serveTasks()` use. */
export const parametersStore: ParametersStore = new FileParametersStore();
