/**
 * The in-process backend: everything in maps, history in an array. For tests, and for anything
 * that wants the real state layer without a file.
 */
import { compareKeys, selects } from './backend.ts';
import type { KeySelector, KeyValue, WatchBatch, WatchEvent } from './backend.ts';
import { LocalBackend, type LocalBackendOptions, type LocalStorage, type StoredLease } from './local-backend.ts';

/** Options of `MemoryBackend`. */
export type MemoryBackendOptions = LocalBackendOptions;

/** A StateBackend held in memory; lost when the process ends. */
export class MemoryBackend extends LocalBackend {
  constructor(options: MemoryBackendOptions = {}) {
    super('memory', new MemoryStorage(), options);
  }
}

/** The first index in `sorted` whose item is not `below` (the items that are come first). */
function lowerBound<T>(sorted: readonly T[], below: (item: T) => boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (below(sorted[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

class MemoryStorage implements LocalStorage {
  revision = 1;
  compactRevision = 0;
  private readonly kvs = new Map<string, KeyValue>();
  /** Keys in order, rebuilt lazily after keys are added or removed (ranges are rare, writes not). */
  private sortedKeys: string[] | undefined = [];
  private log: WatchBatch[] = [];
  private readonly leases = new Map<number, StoredLease>();
  private readonly leaseKeySets = new Map<number, Set<string>>();
  private lastLeaseId = 0;

  atomically<T>(fn: () => T): T {
    return fn();
  }

  get(key: string): KeyValue | undefined {
    return this.kvs.get(key);
  }

  range(selector: KeySelector, limit: number): KeyValue[] {
    if ('key' in selector) {
      const kv = this.kvs.get(selector.key);
      return kv ? [kv] : [];
    }
    const keys = this.keys();
    const out: KeyValue[] = [];
    for (let i = lowerBound(keys, (k) => compareKeys(k, selector.prefix) < 0); i < keys.length; i++) {
      if (!keys[i].startsWith(selector.prefix) || (limit > 0 && out.length >= limit)) break;
      out.push(this.kvs.get(keys[i])!);
    }
    return out;
  }

  count(selector: KeySelector): number {
    return this.range(selector, 0).length;
  }

  set(kv: KeyValue, previous: KeyValue | undefined): void {
    if (!previous) this.sortedKeys = undefined;
    if (previous?.lease && previous.lease !== kv.lease) this.leaseKeySets.get(previous.lease)?.delete(kv.key);
    if (kv.lease) this.leaseKeySets.get(kv.lease)?.add(kv.key);
    // Frozen: the same object is handed to every reader and watcher.
    this.kvs.set(kv.key, Object.freeze(kv));
  }

  remove(previous: KeyValue): void {
    this.kvs.delete(previous.key);
    this.sortedKeys = undefined;
    if (previous.lease) this.leaseKeySets.get(previous.lease)?.delete(previous.key);
  }

  hasLease(id: number): boolean {
    return this.leases.has(id);
  }

  commit(revision: number, events: WatchEvent[]): void {
    this.log.push({ revision, events });
    this.revision = revision;
  }

  history(from: number, selector: KeySelector): WatchBatch[] {
    const out: WatchBatch[] = [];
    for (let i = lowerBound(this.log, (b) => b.revision < from); i < this.log.length; i++) {
      const batch = this.log[i];
      const events = batch.events.filter((e) => selects(selector, e.kv.key));
      if (events.length > 0) out.push({ revision: batch.revision, events });
    }
    return out;
  }

  valuesAt(revision: number, selector: KeySelector): Map<string, KeyValue | null> {
    const out = new Map<string, KeyValue | null>();
    for (let i = lowerBound(this.log, (b) => b.revision <= revision); i < this.log.length; i++) {
      for (const e of this.log[i].events) {
        if (selects(selector, e.kv.key) && !out.has(e.kv.key)) out.set(e.kv.key, e.prevKv ?? null);
      }
    }
    return out;
  }

  compact(revision: number): void {
    this.log = this.log.slice(lowerBound(this.log, (b) => b.revision < revision));
    this.compactRevision = revision;
  }

  lease(id: number): StoredLease | undefined {
    return this.leases.get(id);
  }

  saveLease(lease: StoredLease): void {
    this.leases.set(lease.id, lease);
    if (!this.leaseKeySets.has(lease.id)) this.leaseKeySets.set(lease.id, new Set());
  }

  deleteLease(id: number): void {
    this.leases.delete(id);
    this.leaseKeySets.delete(id);
  }

  newLeaseId(): number {
    return ++this.lastLeaseId;
  }

  leaseKeys(id: number): string[] {
    return [...(this.leaseKeySets.get(id) ?? [])].sort(compareKeys);
  }

  nextLeaseExpiry(): number | undefined {
    let next: number | undefined;
    for (const lease of this.leases.values()) if (next === undefined || lease.expiresAt < next) next = lease.expiresAt;
    return next;
  }

  expiredLeases(now: number): number[] {
    return [...this.leases.values()].filter((l) => l.expiresAt <= now).map((l) => l.id);
  }

  close(): void {}

  private keys(): string[] {
    if (!this.sortedKeys) this.sortedKeys = [...this.kvs.keys()].sort(compareKeys);
    return this.sortedKeys;
  }
}
