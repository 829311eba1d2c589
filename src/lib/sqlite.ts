/**
 * SQLite through Node's built-in `node:sqlite` (DatabaseSync): no native module to compile at
 * install, and the same synchronous model better-sqlite3 had. The two places that keep state on
 * disk (the server's sqlite backend, the agent's local state) open their files here.
 */
import { createRequire } from 'node:module';
import type * as NodeSqlite from 'node:sqlite';
import type { DatabaseSync, DatabaseSyncOptions, SQLInputValue, StatementSync } from 'node:sqlite';

export type { DatabaseSync, SQLInputValue, StatementSync };

type SqliteModule = typeof NodeSqlite;

const require = createRequire(import.meta.url);
let sqlite: SqliteModule | undefined;

/**
 * Open (or create) the database file at `file`. `node:sqlite` is loaded on the first call, not at
 * import, so a command that never opens a database (`berth job status`) never loads it.
 */
export function openDatabase(file: string, options: DatabaseSyncOptions = {}): DatabaseSync {
  sqlite ??= loadQuietly();
  return new sqlite.DatabaseSync(file, options);
}

/**
 * Node 22 and 24 before 24.15 print "ExperimentalWarning: SQLite is an experimental feature" when
 * `node:sqlite` is first loaded. A berth user can do nothing about it, and it would appear on every
 * `berth dev`, `server` and `agent` start, so this one warning, and only while the module loads, is
 * dropped here; every other warning passes through. (A static import could not do this: it loads
 * the module before any code of ours runs.)
 */
function loadQuietly(): SqliteModule {
  try {
    return withoutWarning(isSqliteExperimentalWarning, () => require('node:sqlite') as SqliteModule);
  } catch (err) {
    // Node 20 has no node:sqlite; say which runtime is needed rather than "No such built-in module".
    throw new Error(`node:sqlite is not in Node ${process.version}: run berth on Node 24 or newer`, { cause: err });
  }
}

/** Run `fn` with the warnings that `drop` matches not emitted (Node emits its own through process.emitWarning). */
export function withoutWarning<T>(drop: (warning: string | Error, typeOrOptions: unknown) => boolean, fn: () => T): T {
  const emitWarning = process.emitWarning;
  process.emitWarning = function (this: NodeJS.Process, warning: string | Error, ...rest: unknown[]): void {
    if (drop(warning, rest[0])) return;
    (emitWarning as (...args: unknown[]) => void).call(this, warning, ...rest);
  } as typeof process.emitWarning;
  try {
    return fn();
  } finally {
    process.emitWarning = emitWarning;
  }
}

/** Whether an emitWarning call is node:sqlite's ExperimentalWarning (its type given as a string, in options, or as the error's name). */
export function isSqliteExperimentalWarning(warning: string | Error, typeOrOptions: unknown): boolean {
  const message = typeof warning === 'string' ? warning : warning.message;
  let type: unknown;
  if (typeof warning !== 'string') type = warning.name;
  else if (typeof typeOrOptions === 'string') type = typeOrOptions;
  else type = (typeOrOptions as { type?: unknown } | undefined)?.type;
  return type === 'ExperimentalWarning' && message.startsWith('SQLite is an experimental feature');
}

/** Runs a function inside one transaction: committed when it returns, rolled back when it throws. */
export type Transaction = <T>(fn: () => T) => T;

/**
 * A transaction runner for `db`, like better-sqlite3's `db.transaction()`: BEGIN/COMMIT/ROLLBACK
 * are prepared once (a save runs thousands of times), and a call inside a running transaction
 * becomes a savepoint, so an inner failure undoes only its own writes.
 */
export function transaction(db: DatabaseSync): Transaction {
  const begin = db.prepare('BEGIN');
  const commit = db.prepare('COMMIT');
  const rollback = db.prepare('ROLLBACK');
  let depth = 0;
  return <T>(fn: () => T): T => {
    const name = `berth_${depth}`;
    if (depth === 0) begin.run();
    else db.exec(`SAVEPOINT ${name}`);
    depth++;
    try {
      const result = fn();
      if (depth === 1) commit.run();
      else db.exec(`RELEASE ${name}`);
      return result;
    } catch (err) {
      if (depth > 1) db.exec(`ROLLBACK TO ${name}; RELEASE ${name}`);
      // SQLite may already have rolled back on its own (e.g. after SQLITE_FULL).
      else if (db.isTransaction) rollback.run();
      throw err;
    } finally {
      depth--;
    }
  };
}

/** The value of a pragma that returns one row of one column (`journal_mode`, `user_version`). */
export function pragmaValue(db: DatabaseSync, pragma: string): unknown {
  const row = db.prepare(`PRAGMA ${pragma}`).get();
  return row === undefined ? undefined : Object.values(row)[0];
}
