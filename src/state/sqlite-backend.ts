/**
 * The embedded default backend: one SQLite file (better-sqlite3) in WAL mode, held exclusively by
 * one process. Watches are in-process; history for replay and past reads is kept in a log table
 * until compacted.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { BerthError } from '../model/index.ts';
import { LocalBackend, type LocalBackendOptions } from './local-backend.ts';
import { SqliteStorage } from './sqlite-storage.ts';

/** Options of `SqliteBackend.open`. */
export interface SqliteBackendOptions extends LocalBackendOptions {
  /** SQLite page cache in MiB. Default: 64. */
  cacheMiB?: number;
}

/** A StateBackend in one SQLite file. */
export class SqliteBackend extends LocalBackend {
  /** The database file. */
  readonly path: string;

  private constructor(path: string, storage: SqliteStorage, options: SqliteBackendOptions) {
    super('sqlite', storage, options);
    this.path = path;
  }

  /**
   * Open the state file at `path`, creating it (and its directory) when missing. An existing file
   * keeps its keys, history and revision; leases that ran out while it was closed expire now.
   */
  static async open(path: string, options: SqliteBackendOptions = {}): Promise<SqliteBackend> {
    const file = resolve(path);
    let db: Database.Database | undefined;
    try {
      mkdirSync(dirname(file), { recursive: true });
      db = new Database(file, { timeout: 1000 });
      // Exclusive: one process owns the revision counter. It also lets WAL run without a -shm file.
      db.pragma('locking_mode = EXCLUSIVE');
      const mode = db.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`the file system does not support SQLite's WAL mode (journal mode is ${String(mode)})`);
      db.pragma('synchronous = NORMAL');
      db.pragma(`cache_size = ${-1024 * (options.cacheMiB ?? 64)}`);
      return new SqliteBackend(file, new SqliteStorage(db), options);
    } catch (err) {
      db?.close();
      throw new BerthError('unavailable', `Cannot open state at ${file}: ${describe(err)}`);
    }
  }
}

function describe(err: unknown): string {
  if (err instanceof Error && 'code' in err && err.code === 'SQLITE_BUSY') {
    return 'it is already open elsewhere (database is locked); one state file serves one berth server';
  }
  return err instanceof Error ? err.message : String(err);
}
