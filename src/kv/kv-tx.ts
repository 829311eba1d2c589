/**
 * One attempt at a KV write: reads from the mirror (remembering the revision of each key read),
 * an overlay of what it writes, and the backend txn that commits it only if nothing it read moved.
 */
import type { Compare, KeyValue, Op, TxnRequest } from '../state/index.ts';
import { KV_DATA, KV_SESSIONS, decodeEntry, decodeSession, encodeEntry, type KvEntry } from './entries.ts';
import type { SessionRecord } from './session-types.ts';

/** What a txn reads from the store's in-memory copy (KvStore implements it). */
export interface KvReadSource {
  readonly entries: ReadonlyMap<string, KvEntry>;
  readonly sessions: ReadonlyMap<string, SessionRecord>;
  list(prefix: string): KvEntry[];
  /** The backend revision a key was last written at, 0 when absent. */
  modRevisionOf(backendKey: string): number;
}

/**
 * Keys read straight from the backend at one revision (a lost txn's failure branch), newer than
 * the mirror; null for a key that does not exist.
 */
export interface FreshReads {
  revision: number;
  kvs: ReadonlyMap<string, KeyValue | null>;
}

/** A write in progress over the mirror. */
export class KvTx {
  private readonly reads = new Map<string, number>();
  /** Prefixes listed: a key written under one since counts as read. */
  private readonly listed = new Set<string>();
  private readonly writes = new Map<string, string | null>();
  private readonly entries = new Map<string, KvEntry | null>();
  private readonly sessions = new Map<string, SessionRecord | null>();
  /** Entries written by this txn: their indexes are set once the revision is known. */
  private readonly pending: KvEntry[] = [];
  /** Compares and writes outside the KV keys (catalog rows of a `/v1/txn`) that commit with these. */
  private readonly joined: { compare: Compare[]; success: Op[] } = { compare: [], success: [] };

  constructor(
    private readonly store: KvReadSource,
    private readonly fresh?: FreshReads,
  ) {}

  /** A key as this txn sees it. */
  entry(key: string): KvEntry | undefined {
    this.read(KV_DATA + key);
    if (this.entries.has(key)) return this.entries.get(key) ?? undefined;
    const kv = this.fresh?.kvs.get(KV_DATA + key);
    if (kv !== undefined) return kv === null ? undefined : decodeEntry(kv);
    return this.store.entries.get(key);
  }

  /** Keys under a prefix as this txn sees them, in key order. */
  list(prefix: string): KvEntry[] {
    this.listed.add(prefix);
    const keys = new Set<string>();
    for (const e of this.store.list(prefix)) keys.add(e.Key);
    for (const [k, kv] of this.fresh?.kvs ?? []) if (kv && k.startsWith(KV_DATA + prefix)) keys.add(k.slice(KV_DATA.length));
    for (const k of this.entries.keys()) if (k.startsWith(prefix)) keys.add(k);
    return [...keys].sort().map((k) => this.entry(k)).filter((e): e is KvEntry => e !== undefined);
  }

  /** Put a key; returns the entry whose indexes are filled in on commit. */
  set(key: string, fields: Pick<KvEntry, 'Value' | 'Flags' | 'LockIndex' | 'Session'>): KvEntry {
    const prev = this.entry(key);
    const entry: KvEntry = { Key: key, Value: fields.Value, Flags: fields.Flags, CreateIndex: prev?.CreateIndex ?? 0, ModifyIndex: 0, LockIndex: fields.LockIndex };
    if (fields.Session) entry.Session = fields.Session;
    this.entries.set(key, entry);
    this.writes.set(KV_DATA + key, encodeEntry(entry));
    this.pending.push(entry);
    return entry;
  }

  /** Delete a key (a no-op write when it does not exist). */
  delete(key: string): void {
    const had = this.entry(key) !== undefined;
    this.entries.set(key, null);
    if (had || this.writes.has(KV_DATA + key)) this.writes.set(KV_DATA + key, null);
  }

  /** A session as this txn sees it. */
  session(id: string): SessionRecord | undefined {
    this.read(KV_SESSIONS + id);
    if (this.sessions.has(id)) return this.sessions.get(id) ?? undefined;
    const kv = this.fresh?.kvs.get(KV_SESSIONS + id);
    if (kv !== undefined) return kv === null ? undefined : decodeSession(kv);
    return this.store.sessions.get(id);
  }

  /** Put a session. */
  putSession(record: SessionRecord): void {
    this.read(KV_SESSIONS + record.ID);
    this.sessions.set(record.ID, record);
    const { CreateIndex: _c, ModifyIndex: _m, ...stored } = record;
    this.writes.set(KV_SESSIONS + record.ID, JSON.stringify(stored));
  }

  /** Delete a session. */
  deleteSession(id: string): void {
    this.read(KV_SESSIONS + id);
    this.sessions.set(id, null);
    this.writes.set(KV_SESSIONS + id, null);
  }

  /** Drop every write (a rolled-back `/v1/txn`), the joined ones too; reads still guard nothing. */
  abandon(): void {
    this.writes.clear();
    this.joined.compare = [];
    this.joined.success = [];
  }

  /**
   * Commit writes to keys outside the KV (catalog rows of a `/v1/txn`) in the same backend txn,
   * guarded by their own compares: all of it applies, or none.
   */
  join(compare: Compare[], success: Op[]): void {
    this.joined.compare.push(...compare);
    this.joined.success.push(...success);
  }

  /**
   * The backend txn: every key read must still be at the revision read. When one is not, the
   * failure branch reads them all, for the next attempt.
   */
  request(): TxnRequest {
    const compare: Compare[] = [...this.reads].map(([key, rev]) => ({ key, target: 'modRevision', op: '=', value: rev }));
    const failure: Op[] = [...this.reads.keys()].map((key) => ({ type: 'range', selector: { key } }));
    const success: Op[] = [];
    for (const [key, value] of this.writes) {
      if (value === null) {
        if (this.reads.get(key) !== 0) success.push({ type: 'delete', key });
      } else success.push({ type: 'put', key, value });
    }
    compare.push(...this.joined.compare);
    success.push(...this.joined.success);
    return { compare, success, failure };
  }

  /** What this attempt read: backend keys, and the user-key prefixes it listed. */
  readSet(): { keys: Iterable<string>; prefixes: Iterable<string> } {
    return { keys: this.reads.keys(), prefixes: this.listed };
  }

  /** Fill in the indexes of written entries once committed at `revision`. */
  finish<T>(result: T, revision: number): T {
    for (const e of this.pending) {
      e.ModifyIndex = revision;
      if (e.CreateIndex === 0) e.CreateIndex = revision;
    }
    return result;
  }

  private read(backendKey: string): void {
    if (this.reads.has(backendKey)) return;
    const kv = this.fresh?.kvs.get(backendKey);
    this.reads.set(backendKey, kv === undefined ? this.store.modRevisionOf(backendKey) : (kv?.modRevision ?? 0));
  }
}
