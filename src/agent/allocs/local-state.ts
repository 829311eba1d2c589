import fs from 'node:fs/promises';
import path from 'node:path';
import type { Allocation, Job, TaskState } from '../../model/index.ts';
import type { TaskHandle } from '../../drivers/index.ts';
import { openDatabase, pragmaValue, transaction, type DatabaseSync, type StatementSync } from '../../lib/index.ts';

/** What the agent keeps on disk per allocation, to find its tasks again after a restart. */
export interface AllocRecord {
  alloc: Allocation;
  job: Job;
  handles: Record<string, TaskHandle>;
  taskStates: Record<string, TaskState>;
}

/** Schema version written to `PRAGMA user_version`; bump it with a migration when tables change. */
const SCHEMA_VERSION = 1;

/**
 * The agent's local state: one SQLite file, `<dataDir>/agent.db`, in WAL mode, so that what
 * `save` returned from is kept even if the agent is killed (-9) the next instant. Allocations, their job version, and each task's handle and state have their own rows:
 * a handle is written the moment its task starts, before anything else can go wrong.
 *
 * node:sqlite is synchronous; a save is a few hundred microseconds, well below anything the
 * agent waits on, and it keeps the order of writes the order of calls.
 */
export class LocalState {
  readonly #dataDir: string;
  #db: DatabaseSync | undefined;
  /** Prepared once: preparing a statement costs more than running it, and saves come by the thousand. */
  #statements: Statements | undefined;

  constructor(dataDir: string) {
    this.#dataDir = dataDir;
  }

  /** The database file's path. */
  get file(): string {
    return path.join(this.#dataDir, 'agent.db');
  }

  /** Open (or create) the database; imports the JSON records of older agents once. */
  async open(): Promise<void> {
    await fs.mkdir(this.#dataDir, { recursive: true });
    // Waits up to 5 s for a lock instead of failing at once (what better-sqlite3 did by default).
    const db = openDatabase(this.file, { timeout: 5000 });
    db.exec('PRAGMA journal_mode = WAL');
    // NORMAL in WAL mode: a commit is in the WAL (the OS's page cache) when it returns, so it
    // survives the agent being killed; only a power loss can take the last commits, and the
    // agent then finds its containers by their labels. FULL would fsync on every task event.
    db.exec('PRAGMA synchronous = NORMAL');
    if ((pragmaValue(db, 'user_version') as number) < SCHEMA_VERSION) {
      db.exec(`
        CREATE TABLE IF NOT EXISTS allocs (id TEXT PRIMARY KEY, alloc TEXT NOT NULL, job TEXT NOT NULL);
        CREATE TABLE IF NOT EXISTS tasks (
          alloc_id TEXT NOT NULL REFERENCES allocs(id) ON DELETE CASCADE,
          name TEXT NOT NULL,
          handle TEXT,
          state TEXT,
          PRIMARY KEY (alloc_id, name)
        );
        PRAGMA user_version = ${SCHEMA_VERSION};
      `);
    }
    db.exec('PRAGMA foreign_keys = ON');
    this.#db = db;
    this.#statements = prepareStatements(db);
    await this.#importJson();
  }

  /** Close the database; later saves are ignored (the agent is gone). */
  close(): void {
    this.#db?.close();
    this.#db = undefined;
    this.#statements = undefined;
  }

  /** Every record; a row that cannot be parsed is skipped and reported through `onBad`. */
  async load(onBad: (what: string, err: Error) => void): Promise<AllocRecord[]> {
    const db = this.#open();
    const out: AllocRecord[] = [];
    const tasks = db.prepare('SELECT name, handle, state FROM tasks WHERE alloc_id = ?');
    for (const row of db.prepare('SELECT id, alloc, job FROM allocs').all() as unknown as { id: string; alloc: string; job: string }[]) {
      try {
        const record: AllocRecord = { alloc: JSON.parse(row.alloc) as Allocation, job: JSON.parse(row.job) as Job, handles: {}, taskStates: {} };
        for (const t of tasks.all(row.id) as unknown as { name: string; handle: string | null; state: string | null }[]) {
          if (t.handle) record.handles[t.name] = JSON.parse(t.handle) as TaskHandle;
          if (t.state) record.taskStates[t.name] = JSON.parse(t.state) as TaskState;
        }
        out.push(record);
      } catch (err) {
        onBad(`allocation ${row.id}`, err as Error);
      }
    }
    return out;
  }

  /** Save a whole record in one transaction; the last save wins. */
  save(record: AllocRecord): Promise<void> {
    const statements = this.#statements;
    if (!statements) return Promise.resolve();
    try {
      statements.save(record);
      return Promise.resolve();
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }

  /** Forget an allocation and its tasks. */
  async remove(allocId: string): Promise<void> {
    this.#statements?.remove.run(allocId);
  }

  /** Directory for a task's files (process logs, scratch). */
  taskDir(allocId: string, taskName: string): string {
    return path.join(this.#dataDir, 'tasks', allocId, taskName);
  }

  /** Remove an allocation's task directories. */
  async removeTaskDirs(allocId: string): Promise<void> {
    await fs.rm(path.join(this.#dataDir, 'tasks', allocId), { recursive: true, force: true });
  }

  #open(): DatabaseSync {
    if (!this.#db) throw new Error('Cannot use the agent local state: it is not open (call open() first)');
    return this.#db;
  }

  /** Agents before SQLite kept one JSON file per allocation under `allocs/`: take them over once. */
  async #importJson(): Promise<void> {
    const dir = path.join(this.#dataDir, 'allocs');
    let names: string[];
    try {
      names = await fs.readdir(dir);
    } catch {
      return;
    }
    for (const name of names.filter((n) => n.endsWith('.json'))) {
      try {
        await this.save(JSON.parse(await fs.readFile(path.join(dir, name), 'utf8')) as AllocRecord);
      } catch {
        // A torn file from a crash: the task is found again by its labels, or started anew.
      }
    }
    await fs.rm(dir, { recursive: true, force: true });
  }
}

/** The statements of the hot paths, prepared once per open database. */
interface Statements {
  /** Save a whole record in one transaction. */
  save: (record: AllocRecord) => void;
  remove: StatementSync;
}

function prepareStatements(db: DatabaseSync): Statements {
  const upsertAlloc = db.prepare('INSERT INTO allocs (id, alloc, job) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET alloc = excluded.alloc, job = excluded.job');
  const upsertTask = db.prepare(
    'INSERT INTO tasks (alloc_id, name, handle, state) VALUES (?, ?, ?, ?) ON CONFLICT(alloc_id, name) DO UPDATE SET handle = excluded.handle, state = excluded.state',
  );
  const inTransaction = transaction(db);
  const save = (record: AllocRecord): void => inTransaction(() => {
    const id = record.alloc.id;
    upsertAlloc.run(id, JSON.stringify(record.alloc), JSON.stringify(record.job));
    const names = new Set([...Object.keys(record.handles), ...Object.keys(record.taskStates)]);
    for (const name of names) {
      const handle = record.handles[name];
      const state = record.taskStates[name];
      upsertTask.run(id, name, handle ? JSON.stringify(handle) : null, state ? JSON.stringify(state) : null);
    }
  });
  return { save, remove: db.prepare('DELETE FROM allocs WHERE id = ?') };
}
