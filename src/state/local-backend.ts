/**
 * The StateBackend logic shared by the in-process backends (memory and sqlite): txns, revisions,
 * ranges at past revisions, watches with replay, leases with expiry, compaction. Each backend
 * supplies a `LocalStorage`, synchronous key and log access; everything here runs synchronously
 * inside the async methods, so calls are applied in the order they were made.
 */
import { BerthError } from '../model/index.ts';
import { CompactedError, compareKeys } from './backend.ts';
import type {
  KeySelector,
  KeyValue,
  Lease,
  RangeOptions,
  RangeResult,
  StateBackend,
  TxnRequest,
  TxnResult,
  WatchBatch,
  WatchCallback,
  WatchEvent,
  WatchOptions,
  Watcher,
} from './backend.ts';
import { systemClock, type Clock } from '../lib/index.ts';
import { checkLeases, checkTxnRequest, compareHolds, runOps, tombstone, type TxnTarget } from './txn.ts';
import { WatchHub, reportError } from './watch-hub.ts';

/** A lease as stored: its TTL and when it expires (clock milliseconds). */
export interface StoredLease {
  id: number;
  ttlSeconds: number;
  expiresAt: number;
}

/** Synchronous storage under a local backend. */
export interface LocalStorage extends TxnTarget {
  /** The latest revision (1 for an empty store). */
  readonly revision: number;
  /** Reads and watches below it fail; 0 until the first compaction. */
  readonly compactRevision: number;
  /**
   * Run `fn` as one atomic unit: if it throws, nothing it wrote is kept. The memory storage cannot
   * roll back, so callers check everything that can fail before they write.
   */
  atomically<T>(fn: () => T): T;
  count(selector: KeySelector): number;
  /** Record the events of `revision` (one more than the current) and make it the current one. */
  commit(revision: number, events: WatchEvent[]): void;
  /** Logged revisions >= `from` with their events on matched keys (prevKv included), in order. */
  history(from: number, selector: KeySelector): WatchBatch[];
  /** For each matched key changed after `revision`: its kv at `revision` (null: absent). */
  valuesAt(revision: number, selector: KeySelector): Map<string, KeyValue | null>;
  /** Drop the log before `revision`. */
  compact(revision: number): void;
  lease(id: number): StoredLease | undefined;
  saveLease(lease: StoredLease): void;
  deleteLease(id: number): void;
  newLeaseId(): number;
  /** Keys attached to the lease, sorted. */
  leaseKeys(id: number): string[];
  /** The earliest `expiresAt` of any lease. */
  nextLeaseExpiry(): number | undefined;
  /** Leases with `expiresAt <= now`. */
  expiredLeases(now: number): number[];
  close(): void;
}

/** Options of the in-process backends. */
export interface LocalBackendOptions {
  /** Time source for lease expiry. Default: the wall clock. */
  clock?: Clock;
  /** Receives errors of background work (lease expiry). Default: they are rethrown asynchronously. */
  onError?: (err: Error) => void;
  /**
   * Compact automatically, keeping at least this many revisions of history and at most a tenth
   * more (like etcd's revision-mode auto-compaction). Default: keep everything until `compact` is
   * called.
   */
  retainRevisions?: number;
}

/** Longest single timer wait; longer waits are re-armed, setTimeout cannot wait past 2^31 ms. */
const MAX_TIMER_MS = 3_600_000;

/** A StateBackend over a LocalStorage. */
export class LocalBackend implements StateBackend {
  readonly name: string;
  private readonly storage: LocalStorage;
  private readonly clock: Clock;
  private readonly onError: ((err: Error) => void) | undefined;
  private readonly retainRevisions: number | undefined;
  private readonly hub = new WatchHub();
  private expiryTimer: { cancel(): void } | undefined;
  private closed = false;

  protected constructor(name: string, storage: LocalStorage, options: LocalBackendOptions = {}) {
    this.name = name;
    this.storage = storage;
    this.clock = options.clock ?? systemClock;
    this.onError = options.onError;
    this.retainRevisions = options.retainRevisions;
    // Leases that ran out while the store was closed expire now.
    this.expireDueLeases();
  }

  async range(selector: KeySelector, options: RangeOptions = {}): Promise<RangeResult> {
    this.ensureOpen('read');
    const s = this.storage;
    const revision = options.revision || s.revision;
    if (revision < s.compactRevision) throw new CompactedError(revision, s.compactRevision);
    if (revision > s.revision) {
      throw new BerthError('invalid_input', `Cannot read revision ${revision}: the latest revision is ${s.revision}`);
    }
    const limit = options.limit ?? 0;
    if (revision === s.revision) {
      if (options.countOnly) return { kvs: [], count: s.count(selector), revision };
      const kvs = s.range(selector, limit);
      const count = limit > 0 && kvs.length === limit ? s.count(selector) : kvs.length;
      return { kvs, count, revision };
    }
    const kvs = this.rangeAt(selector, revision);
    return { kvs: options.countOnly ? [] : limit > 0 ? kvs.slice(0, limit) : kvs, count: kvs.length, revision: s.revision };
  }

  /** Keys as they were at a past revision: the current ones, with later changes undone. */
  private rangeAt(selector: KeySelector, revision: number): KeyValue[] {
    const byKey = new Map<string, KeyValue>();
    for (const kv of this.storage.range(selector, 0)) byKey.set(kv.key, kv);
    for (const [key, old] of this.storage.valuesAt(revision, selector)) {
      if (old) byKey.set(key, old);
      else byKey.delete(key);
    }
    return [...byKey.values()].sort((a, b) => compareKeys(a.key, b.key));
  }

  async txn(request: TxnRequest): Promise<TxnResult> {
    return this.execute(request).result;
  }

  /** Runs a txn and also returns its events (for `delete`'s count). */
  private execute(request: TxnRequest): { result: TxnResult; events: WatchEvent[] } {
    this.ensureOpen('write');
    checkTxnRequest(request);
    const s = this.storage;
    const revision = s.revision + 1;
    const outcome = s.atomically(() => {
      const succeeded = request.compare.every((c) => compareHolds(c, s.get(c.key)));
      const ops = succeeded ? request.success : (request.failure ?? []);
      checkLeases(s, ops);
      const { responses, events } = runOps(s, ops, revision);
      if (events.length > 0) s.commit(revision, events);
      return { succeeded, responses, events };
    });
    if (outcome.events.length > 0) {
      this.hub.publish(revision, outcome.events);
      this.autoCompact();
    }
    for (const r of outcome.responses) if (r) r.revision = s.revision;
    const result = { succeeded: outcome.succeeded, revision: s.revision, responses: outcome.responses };
    return { result, events: outcome.events };
  }

  async put(key: string, value: string, options: { lease?: number } = {}): Promise<number> {
    const op = options.lease ? { type: 'put' as const, key, value, lease: options.lease } : { type: 'put' as const, key, value };
    return (await this.txn({ compare: [], success: [op] })).revision;
  }

  async delete(selector: KeySelector): Promise<{ deleted: number; revision: number }> {
    const op = 'key' in selector ? { type: 'delete' as const, key: selector.key } : { type: 'deletePrefix' as const, prefix: selector.prefix };
    const { result, events } = this.execute({ compare: [], success: [op] });
    return { deleted: events.length, revision: result.revision };
  }

  async watch(selector: KeySelector, callback: WatchCallback, options: WatchOptions = {}): Promise<Watcher> {
    this.ensureOpen('watch');
    const s = this.storage;
    const from = options.fromRevision || s.revision + 1;
    if (from < s.compactRevision) {
      const err = new CompactedError(from, s.compactRevision);
      if (!options.onError) throw err;
      const onError = options.onError;
      queueMicrotask(() => onError(err));
      return { cancel() {} };
    }
    // Replay and registration happen in one synchronous step, so no revision falls between them.
    const watch = this.hub.add(selector, callback, { fromRevision: from, prevKv: options.prevKv ?? false, onError: options.onError });
    if (from <= s.revision) for (const batch of s.history(from, selector)) watch.offer(batch);
    return watch;
  }

  async leaseGrant(ttlSeconds: number): Promise<Lease> {
    this.ensureOpen('grant a lease');
    if (!Number.isFinite(ttlSeconds) || ttlSeconds <= 0) {
      throw new BerthError('invalid_input', `Cannot grant a lease: TTL must be a positive number of seconds, got ${ttlSeconds}`);
    }
    const ttl = Math.ceil(ttlSeconds);
    const s = this.storage;
    const lease = s.atomically(() => {
      const stored = { id: s.newLeaseId(), ttlSeconds: ttl, expiresAt: this.clock.now() + ttl * 1000 };
      s.saveLease(stored);
      return stored;
    });
    this.armExpiry();
    return { id: lease.id, ttlSeconds: ttl };
  }

  async leaseKeepAlive(id: number): Promise<void> {
    this.ensureOpen('keep a lease alive');
    const lease = this.liveLease(id, 'keep alive');
    this.storage.saveLease({ ...lease, expiresAt: this.clock.now() + lease.ttlSeconds * 1000 });
    this.armExpiry();
  }

  async leaseRevoke(id: number): Promise<void> {
    this.ensureOpen('revoke a lease');
    this.liveLease(id, 'revoke');
    this.revoke(id);
    this.armExpiry();
  }

  async compact(revision: number): Promise<void> {
    this.ensureOpen('compact');
    const s = this.storage;
    if (revision > s.revision) {
      throw new BerthError('invalid_input', `Cannot compact at revision ${revision}: the latest revision is ${s.revision}`);
    }
    if (revision <= s.compactRevision) throw new CompactedError(revision, s.compactRevision);
    s.atomically(() => s.compact(revision));
  }

  async revision(): Promise<number> {
    this.ensureOpen('read');
    return this.storage.revision;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.expiryTimer?.cancel();
    this.hub.cancelAll();
    this.storage.close();
  }

  /** The lease, expiring it first if its time has passed; throws `not_found` when it is gone. */
  private liveLease(id: number, action: string): StoredLease {
    let lease = this.storage.lease(id);
    if (lease && lease.expiresAt <= this.clock.now()) {
      this.revoke(id);
      lease = undefined;
    }
    if (!lease) throw new BerthError('not_found', `Cannot ${action} lease ${id}: it does not exist or has expired`);
    return lease;
  }

  /** Delete a lease and its keys, in one revision when there are keys. */
  private revoke(id: number): void {
    const s = this.storage;
    const revision = s.revision + 1;
    const events = s.atomically(() => {
      const events: WatchEvent[] = [];
      for (const key of s.leaseKeys(id)) {
        const prev = s.get(key);
        if (!prev) continue;
        s.remove(prev);
        events.push({ type: 'delete', kv: tombstone(key, revision), prevKv: prev });
      }
      s.deleteLease(id);
      if (events.length > 0) s.commit(revision, events);
      return events;
    });
    if (events.length > 0) {
      this.hub.publish(revision, events);
      this.autoCompact();
    }
  }

  /**
   * Keep the history at most `retainRevisions` plus a tenth of it: compact once that much more has
   * piled up, so the log (and the SQLite file) stays bounded under churn while each compaction
   * deletes a tenth of the window, not the whole of it at once.
   */
  private autoCompact(): void {
    const keep = this.retainRevisions;
    const s = this.storage;
    if (!keep || s.revision - Math.max(s.compactRevision, 1) < keep + Math.ceil(keep / 10)) return;
    s.atomically(() => s.compact(s.revision - keep));
  }

  private expireDueLeases(): void {
    try {
      for (const id of this.storage.expiredLeases(this.clock.now())) this.revoke(id);
    } catch (err) {
      reportError(err, this.onError);
    }
    this.armExpiry();
  }

  /** Point the one expiry timer at the earliest lease expiry. */
  private armExpiry(): void {
    this.expiryTimer?.cancel();
    this.expiryTimer = undefined;
    if (this.closed) return;
    const next = this.storage.nextLeaseExpiry();
    if (next === undefined) return;
    const wait = Math.min(Math.max(0, next - this.clock.now()), MAX_TIMER_MS);
    this.expiryTimer = this.clock.setTimer(() => {
      this.expiryTimer = undefined;
      if (!this.closed) this.expireDueLeases();
    }, wait);
  }

  private ensureOpen(action: string): void {
    if (this.closed) throw new BerthError('unavailable', `Cannot ${action}: the ${this.name} state backend is closed`);
  }
}
