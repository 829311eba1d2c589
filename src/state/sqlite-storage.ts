/**
 * The LocalStorage of the sqlite backend: one table of current keys, one append-only log of
 * changes (with previous values, for prevKv and for reads at past revisions), leases and meta.
 */
import { transaction, type DatabaseSync, type SQLInputValue, type StatementSync, type Transaction } from '../lib/index.ts';
import { prefixEnd } from './backend.ts';
import type { KeySelector, KeyValue, WatchBatch, WatchEvent } from './backend.ts';
import type { LocalStorage, StoredLease } from './local-backend.ts';

/** Bumped when the schema changes incompatibly; a newer file is refused, not misread. */
export const SCHEMA_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS kv (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL,
  create_rev INTEGER NOT NULL,
  mod_rev INTEGER NOT NULL,
  version INTEGER NOT NULL,
  lease INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS kv_by_lease ON kv (lease) WHERE lease <> 0;
CREATE TABLE IF NOT EXISTS log (
  id INTEGER PRIMARY KEY,
  rev INTEGER NOT NULL,
  key TEXT NOT NULL,
  type INTEGER NOT NULL,
  value TEXT,
  create_rev INTEGER NOT NULL,
  version INTEGER NOT NULL,
  lease INTEGER NOT NULL,
  prev_value TEXT,
  prev_create_rev INTEGER,
  prev_mod_rev INTEGER,
  prev_version INTEGER,
  prev_lease INTEGER
);
CREATE INDEX IF NOT EXISTS log_by_rev ON log (rev);
CREATE TABLE IF NOT EXISTS leases (id INTEGER PRIMARY KEY, ttl INTEGER NOT NULL, expires_at INTEGER NOT NULL);
`;

const KV_COLUMNS = 'key, value, create_rev, mod_rev, version, lease';
const PUT = 0;
const DELETE = 1;

/** A row of table kv, as an array: node:sqlite builds arrays several times faster than objects. */
type KvRow = [key: string, value: string, createRev: number, modRev: number, version: number, lease: number];

/** A row of table log (LOG_COLUMNS), as an array. */
type LogRow = [
  rev: number, key: string, type: number, value: string | null, createRev: number, version: number, lease: number,
  prevValue: string | null, prevCreateRev: number | null, prevModRev: number | null, prevVersion: number | null, prevLease: number | null,
];

const LOG_COLUMNS = 'rev, key, type, value, create_rev, version, lease, prev_value, prev_create_rev, prev_mod_rev, prev_version, prev_lease';

/** A `WHERE` clause (over column `key`) and its parameters for a selector. */
function keyFilter(selector: KeySelector): { sql: string; params: SQLInputValue[] } {
  if ('key' in selector) return { sql: 'key = ?', params: [selector.key] };
  if (selector.prefix === '') return { sql: '1', params: [] };
  const end = prefixEnd(selector.prefix);
  return end === undefined ? { sql: 'key >= ?', params: [selector.prefix] } : { sql: 'key >= ? AND key < ?', params: [selector.prefix, end] };
}

/** Storage in one SQLite database; every write runs inside `atomically`. */
export class SqliteStorage implements LocalStorage {
  revision: number;
  compactRevision: number;
  private lastLeaseId: number;
  private readonly statements = new Map<string, StatementSync>();
  private readonly inTransaction: Transaction;
  private readonly getKv: StatementSync;
  private readonly upsertKv: StatementSync;
  private readonly deleteKv: StatementSync;
  private readonly insertLog: StatementSync;
  private readonly setMeta: StatementSync;

  constructor(private readonly db: DatabaseSync) {
    db.exec(SCHEMA);
    const meta = new Map((db.prepare('SELECT name, value FROM meta').all() as unknown as { name: string; value: number }[]).map((r) => [r.name, r.value]));
    const schema = meta.get('schema');
    if (schema !== undefined && schema > SCHEMA_VERSION) {
      throw new Error(`the file has schema version ${schema}, this berth reads up to ${SCHEMA_VERSION}; upgrade berth`);
    }
    this.revision = meta.get('revision') ?? 1;
    this.compactRevision = meta.get('compact_revision') ?? 0;
    this.lastLeaseId = meta.get('last_lease_id') ?? 0;
    this.setMeta = db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value');
    // Writing at open also takes the exclusive lock now, so a second process fails here and not later.
    this.setMeta.run('schema', SCHEMA_VERSION);
    this.getKv = this.stmt(`SELECT ${KV_COLUMNS} FROM kv WHERE key = ?`);
    this.upsertKv = db.prepare(
      `INSERT INTO kv (key, value, create_rev, mod_rev, version, lease) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT (key) DO UPDATE SET value = excluded.value, create_rev = excluded.create_rev,
       mod_rev = excluded.mod_rev, version = excluded.version, lease = excluded.lease`,
    );
    this.deleteKv = db.prepare('DELETE FROM kv WHERE key = ?');
    this.insertLog = db.prepare(
      `INSERT INTO log (rev, key, type, value, create_rev, version, lease,
       prev_value, prev_create_rev, prev_mod_rev, prev_version, prev_lease) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.inTransaction = transaction(db);
  }

  atomically<T>(fn: () => T): T {
    const saved = [this.revision, this.compactRevision, this.lastLeaseId] as const;
    try {
      return this.inTransaction(fn);
    } catch (err) {
      // SQLite rolled back; so do the counters kept beside it.
      [this.revision, this.compactRevision, this.lastLeaseId] = saved;
      throw err;
    }
  }

  get(key: string): KeyValue | undefined {
    const row = this.getKv.get(key) as KvRow | undefined;
    return row && toKv(row);
  }

  range(selector: KeySelector, limit: number): KeyValue[] {
    const f = keyFilter(selector);
    const rows = this.stmt(`SELECT ${KV_COLUMNS} FROM kv WHERE ${f.sql} ORDER BY key LIMIT ?`).all(...f.params, limit > 0 ? limit : -1) as unknown as KvRow[];
    return rows.map(toKv);
  }

  count(selector: KeySelector): number {
    const f = keyFilter(selector);
    return (this.stmt(`SELECT COUNT(*) FROM kv WHERE ${f.sql}`).get(...f.params) as unknown as [number])[0];
  }

  set(kv: KeyValue): void {
    this.upsertKv.run(kv.key, kv.value, kv.createRevision, kv.modRevision, kv.version, kv.lease);
  }

  remove(previous: KeyValue): void {
    this.deleteKv.run(previous.key);
  }

  hasLease(id: number): boolean {
    return this.lease(id) !== undefined;
  }

  commit(revision: number, events: WatchEvent[]): void {
    for (const { type, kv, prevKv: p } of events) {
      this.insertLog.run(
        revision, kv.key, type === 'put' ? PUT : DELETE, type === 'put' ? kv.value : null, kv.createRevision, kv.version, kv.lease,
        p ? p.value : null, p ? p.createRevision : null, p ? p.modRevision : null, p ? p.version : null, p ? p.lease : null,
      );
    }
    this.setMeta.run('revision', revision);
    this.revision = revision;
  }

  history(from: number, selector: KeySelector): WatchBatch[] {
    const f = keyFilter(selector);
    const rows = this.stmt(`SELECT ${LOG_COLUMNS} FROM log WHERE rev >= ? AND ${f.sql} ORDER BY id`).all(from, ...f.params) as unknown as LogRow[];
    const out: WatchBatch[] = [];
    for (const row of rows) {
      const last = out[out.length - 1];
      const event = toEvent(row);
      if (last && last.revision === row[0]) last.events.push(event);
      else out.push({ revision: row[0], events: [event] });
    }
    return out;
  }

  valuesAt(revision: number, selector: KeySelector): Map<string, KeyValue | null> {
    const f = keyFilter(selector);
    const rows = this.stmt(`SELECT ${LOG_COLUMNS} FROM log WHERE rev > ? AND ${f.sql} ORDER BY id`).all(revision, ...f.params) as unknown as LogRow[];
    const out = new Map<string, KeyValue | null>();
    for (const row of rows) if (!out.has(row[1])) out.set(row[1], prevOf(row) ?? null);
    return out;
  }

  compact(revision: number): void {
    this.stmt('DELETE FROM log WHERE rev < ?').run(revision);
    this.setMeta.run('compact_revision', revision);
    this.compactRevision = revision;
  }

  lease(id: number): StoredLease | undefined {
    const row = this.stmt('SELECT id, ttl, expires_at FROM leases WHERE id = ?').get(id) as unknown as [number, number, number] | undefined;
    return row && { id: row[0], ttlSeconds: row[1], expiresAt: row[2] };
  }

  saveLease(lease: StoredLease): void {
    this.stmt('INSERT INTO leases (id, ttl, expires_at) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET ttl = excluded.ttl, expires_at = excluded.expires_at').run(
      lease.id, lease.ttlSeconds, lease.expiresAt,
    );
  }

  deleteLease(id: number): void {
    this.stmt('DELETE FROM leases WHERE id = ?').run(id);
  }

  newLeaseId(): number {
    this.lastLeaseId++;
    this.setMeta.run('last_lease_id', this.lastLeaseId);
    return this.lastLeaseId;
  }

  leaseKeys(id: number): string[] {
    return (this.stmt('SELECT key FROM kv WHERE lease = ? ORDER BY key').all(id) as unknown as [string][]).map((r) => r[0]);
  }

  nextLeaseExpiry(): number | undefined {
    return (this.stmt('SELECT MIN(expires_at) FROM leases').get() as unknown as [number | null])[0] ?? undefined;
  }

  expiredLeases(now: number): number[] {
    return (this.stmt('SELECT id FROM leases WHERE expires_at <= ? ORDER BY expires_at, id').all(now) as unknown as [number][]).map((r) => r[0]);
  }

  close(): void {
    this.db.close();
  }

  /** A prepared statement, prepared once per SQL text, returning rows as arrays. */
  private stmt(sql: string): StatementSync {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      s.setReturnArrays(true);
      this.statements.set(sql, s);
    }
    return s;
  }
}

/** A plain KeyValue from a row. */
function toKv(row: KvRow): KeyValue {
  return { key: row[0], value: row[1], createRevision: row[2], modRevision: row[3], version: row[4], lease: row[5] };
}

function prevOf(row: LogRow): KeyValue | undefined {
  const [, key, , , , , , value, createRevision, modRevision, version, lease] = row;
  if (modRevision === null) return undefined;
  return { key, value: value ?? '', createRevision: createRevision ?? 0, modRevision, version: version ?? 0, lease: lease ?? 0 };
}

function toEvent(row: LogRow): WatchEvent {
  const prevKv = prevOf(row);
  const [rev, key, type, value, createRevision, version, lease] = row;
  const kv: KeyValue =
    type === PUT
      ? { key, value: value ?? '', createRevision, modRevision: rev, version, lease }
      : { key, value: '', createRevision: 0, modRevision: rev, version: 0, lease: 0 };
  return prevKv ? { type: type === PUT ? 'put' : 'delete', kv, prevKv } : { type: type === PUT ? 'put' : 'delete', kv };
}
