/**
 * The embedded default backend: one SQLite file (node:sqlite) in WAL mode, held exclusively by
 * one process. Watches are in-process; history for replay and past reads is kept in a log table
 * until compacted.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { openDatabase, pragmaValue, type DatabaseSync } from '../lib/index.ts';
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
    let db: DatabaseSync | undefined;
    try {
      mkdirSync(dirname(file), { recursive: true });
      // Foreign keys are node:sqlite's default; this schema has none, so they would only cost time.
      db = openDatabase(file, { timeout: 1000, enableForeignKeyConstraints: false });
      // Exclusive: one process owns the revision counter. It also lets WAL run without a -shm file.
      db.exec('PRAGMA locking_mode = EXCLUSIVE');
      const mode = pragmaValue(db, 'journal_mode = WAL');
      if (mode !== 'wal') throw new Error(`the file system does not support SQLite's WAL mode (journal mode is ${String(mode)})`);
      db.exec('PRAGMA synchronous = NORMAL');
      db.exec(`PRAGMA cache_size = ${-1024 * (options.cacheMiB ?? 64)}`);
      return new SqliteBackend(file, new SqliteStorage(db), options);
    } catch (err) {
      db?.close();
      throw new BerthError('unavailable', `Cannot open state at ${file}: ${describe(err)}`);
    }
  }
}

function describe(err: unknown): string {
  // node:sqlite reports SQLite's primary result code as `errcode`; 5 is SQLITE_BUSY.
  if (err instanceof Error && 'errcode' in err && err.errcode === 5) {
    return 'it is already open elsewhere (database is locked); one state file serves one berth server';
  }
  return err instanceof Error ? err.message : String(err);
}
