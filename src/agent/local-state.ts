import fs from 'node:fs/promises';
import path from 'node:path';
import type { Allocation, Job, TaskState } from '../model/index.ts';
import type { TaskHandle } from '../drivers/index.ts';

/** What the agent keeps on disk per allocation, to find its tasks again after a restart. */
export interface AllocRecord {
  alloc: Allocation;
  job: Job;
  handles: Record<string, TaskHandle>;
  taskStates: Record<string, TaskState>;
}

/**
 * The agent's local state: one JSON file per allocation under `<dataDir>/allocs/`, replaced
 * atomically (write then rename) so a crash leaves either the old or the new record.
 */
export class LocalState {
  readonly #dir: string;
  readonly #writes = new Map<string, Promise<void>>();

  constructor(dataDir: string) {
    this.#dir = path.join(dataDir, 'allocs');
  }

  async open(): Promise<void> {
    await fs.mkdir(this.#dir, { recursive: true });
  }

  /** Every record; unreadable files are skipped and reported through `onBad`. */
  async load(onBad: (file: string, err: Error) => void): Promise<AllocRecord[]> {
    const out: AllocRecord[] = [];
    for (const name of await fs.readdir(this.#dir)) {
      if (!name.endsWith('.json')) continue;
      const file = path.join(this.#dir, name);
      try {
        out.push(JSON.parse(await fs.readFile(file, 'utf8')) as AllocRecord);
      } catch (err) {
        onBad(file, err as Error);
      }
    }
    return out;
  }

  /** Save a record; saves of one allocation are serialized, the last one wins. */
  save(record: AllocRecord): Promise<void> {
    const id = record.alloc.id;
    const data = JSON.stringify(record);
    const prev = this.#writes.get(id) ?? Promise.resolve();
    const next = prev.then(async () => {
      const file = path.join(this.#dir, `${id}.json`);
      const tmp = `${file}.${process.pid}.tmp`;
      await fs.writeFile(tmp, data);
      await fs.rename(tmp, file);
    });
    this.#writes.set(id, next.catch(() => undefined));
    return next;
  }

  async remove(allocId: string): Promise<void> {
    await (this.#writes.get(allocId) ?? Promise.resolve());
    this.#writes.delete(allocId);
    await fs.rm(path.join(this.#dir, `${allocId}.json`), { force: true });
  }

  /** Directory for a task's files (process logs, scratch). */
  taskDir(allocId: string, taskName: string): string {
    return path.join(path.dirname(this.#dir), 'tasks', allocId, taskName);
  }

  /** Remove an allocation's task directories. */
  async removeTaskDirs(allocId: string): Promise<void> {
    await fs.rm(path.join(path.dirname(this.#dir), 'tasks', allocId), { recursive: true, force: true });
  }
}
