/**
 * The KV mirror every server keeps: user keys and sessions loaded from the backend, then kept
 * current from one watch. Reads are memory reads; blocking reads wait on the exact key or prefix
 * they read, so a write wakes only its watchers. Writes go through `KvTx`: read from the mirror,
 * commit with a compare on every key read, retry on a lost race.
 *
 * A KV write is answered from its txn's revision, without waiting for the watch to bring it back
 * (on etcd that wait was most of a PUT's time). Read-your-writes holds on this server all the
 * same: the keys it committed and its mirror has not applied yet are remembered with their
 * revision, and a read (`settled`) or the build of a write that touches one of them waits for the
 * mirror to reach that revision first. Reads of other keys never wait.
 */
import { BerthError } from '../model/index.ts';
import { compareKeys, type KeyValue, type Op, type StateBackend, type TxnResult, type WatchBatch, type Watcher } from '../state/index.ts';
import { KV_DATA, KV_ROOT, KV_SESSIONS, decodeEntry, decodeSession, type KvEntry } from './entries.ts';
import type { SessionRecord } from './session-types.ts';
import { KvTx, type FreshReads } from './kv-tx.ts';

type Wake = () => void;

/** Longest a read waits for the mirror to apply a write this server answered. */
const CATCH_UP_MS = 10_000;

/** Options of `KvStore.write`. */
export interface KvWriteOptions {
  /**
   * Awaited after each commit attempt with its revision and whether it committed: a caller that
   * joined writes of its own (`KvTx.join`) waits there for its own copy of the state.
   */
  settle?: (revision: number, committed: boolean) => Promise<void>;
  /** Resolve only once the mirror applied the write (sessions: their readers do not wait). */
  applied?: boolean;
}


/** The mirror and the write path of Consul's KV and sessions. */
export class KvStore {
  readonly backend: StateBackend;
  /** User keys by key. */
  readonly entries = new Map<string, KvEntry>();
  /** Sessions by id. */
  readonly sessions = new Map<string, SessionRecord>();
  /** Revision at which each deleted key went away: blocking reads on it must wake. */
  private readonly tombstones = new Map<string, number>();
  private readonly exactWaiters = new Map<string, Set<Wake>>();
  private readonly prefixWaiters = new Map<string, Set<Wake>>();
  private readonly sessionListeners = new Set<Wake>();
  private appliedWaiters: { revision: number; resolve: () => void }[] = [];
  /** Backend keys this store committed at a revision the mirror has not applied yet. */
  private readonly unapplied = new Map<string, number>();
  private sessionsDeletedAt = 0;
  /** Revision of the load: nothing older is tracked per key. */
  private floor = 1;
  /** Last revision applied to the mirror. */
  applied = 0;
  private watcher: Watcher | undefined;
  private closed = false;

  private constructor(backend: StateBackend) {
    this.backend = backend;
  }

  /** Load every key and session, then follow the backend. */
  static async open(backend: StateBackend): Promise<KvStore> {
    const store = new KvStore(backend);
    await store.load();
    return store;
  }

  /**
   * Read every key at one revision and watch from the next. After a lost watch (a backend
   * reconnect, history compacted under a slow mirror) it runs again: keys gone meanwhile become
   * tombstones, and every waiter re-checks its index.
   */
  private async load(): Promise<void> {
    const loaded = await this.backend.range({ prefix: KV_ROOT });
    const seen = new Set<string>();
    for (const kv of loaded.kvs) {
      this.applyPut(kv);
      seen.add(kv.key);
    }
    for (const key of [...this.entries.keys()]) if (!seen.has(KV_DATA + key)) this.applyDelete(KV_DATA + key, loaded.revision);
    for (const id of [...this.sessions.keys()]) if (!seen.has(KV_SESSIONS + id)) this.applyDelete(KV_SESSIONS + id, loaded.revision);
    if (this.applied === 0) this.floor = Math.max(1, loaded.revision);
    this.apply({ revision: loaded.revision, events: [] });
    for (const key of [...this.exactWaiters.keys(), ...this.prefixWaiters.keys()]) this.wake(key);
    if (this.closed) return;
    this.watcher = await this.backend.watch({ prefix: KV_ROOT }, (batch) => this.apply(batch), {
      fromRevision: loaded.revision + 1,
      onError: () => {
        if (this.closed) return;
        this.watcher = undefined;
        this.retry();
      },
    });
  }

  /** Load again in a second, and again after each failure, until closed. */
  private retry(): void {
    if (this.closed) return;
    setTimeout(() => void this.load().catch(() => this.retry()), 1000).unref?.();
  }

  /** Stop following the backend. */
  close(): void {
    this.closed = true;
    this.watcher?.cancel();
    for (const w of this.appliedWaiters) w.resolve();
    this.appliedWaiters = [];
  }

  /** One key, or undefined. */
  get(key: string): KvEntry | undefined {
    return this.entries.get(key);
  }

  /** Every key under the prefix, in key order. */
  list(prefix: string): KvEntry[] {
    const out: KvEntry[] = [];
    for (const e of this.entries.values()) if (e.Key.startsWith(prefix)) out.push(e);
    return out.sort((a, b) => compareKeys(a.Key, b.Key));
  }

  /**
   * The blocking index of a key or prefix: the last revision that put or deleted something it
   * covers (the load revision when nothing did since), so writes elsewhere never move it.
   */
  index(key: string, prefix: boolean): number {
    if (!prefix) {
      return Math.max(this.floor, this.entries.get(key)?.ModifyIndex ?? 0, this.tombstones.get(key) ?? 0);
    }
    let max = this.floor;
    for (const e of this.entries.values()) if (e.ModifyIndex > max && e.Key.startsWith(key)) max = e.ModifyIndex;
    for (const [k, rev] of this.tombstones) if (rev > max && k.startsWith(key)) max = rev;
    return max;
  }

  /** The last revision that changed any session. */
  sessionsIndex(): number {
    let max = this.floor;
    for (const s of this.sessions.values()) max = Math.max(max, s.ModifyIndex);
    return Math.max(max, this.sessionsDeletedAt);
  }

  /**
   * Wait until the key's (or prefix's) index moves past `min`, `waitMs` passes or `signal` aborts.
   * Only writes under the key or prefix wake the wait.
   */
  async waitFor(wait: { key: string; prefix: boolean; min: number; waitMs: number; signal?: AbortSignal }): Promise<void> {
    const { key, prefix, min, waitMs, signal } = wait;
    if (this.index(key, prefix) > min) return;
    const map = prefix ? this.prefixWaiters : this.exactWaiters;
    await new Promise<void>((resolve) => {
      let set = map.get(key);
      if (!set) map.set(key, (set = new Set()));
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        const s = map.get(key);
        s?.delete(wake);
        if (s?.size === 0) map.delete(key);
        resolve();
      };
      const wake = (): void => {
        if (this.index(key, prefix) > min) done();
      };
      const timer = setTimeout(done, waitMs);
      signal?.addEventListener('abort', done);
      set.add(wake);
    });
  }

  /** Called after any session changed (the reaper and lock-delay use it). */
  onSessionChange(listener: Wake): () => void {
    this.sessionListeners.add(listener);
    return () => this.sessionListeners.delete(listener);
  }

  /**
   * Run `build` against the mirror and commit what it wrote, guarded by the revision of every key
   * it read; a lost race rebuilds from the newer mirror, up to 20 times. A build that read a key
   * this store committed and the mirror has not applied yet is run again once it has.
   */
  async write<T>(build: (tx: KvTx) => T, options: KvWriteOptions = {}): Promise<{ result: T; index: number }> {
    const { settle } = options;
    let fresh: FreshReads | undefined;
    for (let attempt = 0; attempt < 20; attempt++) {
      // What a lost race read back is newer than the mirror until the mirror passes it.
      if (fresh && fresh.revision <= this.applied) fresh = undefined;
      const tx = new KvTx(this, fresh);
      const result = build(tx);
      const behind = this.unappliedRevision(tx.readSet(), fresh);
      if (behind > this.applied) {
        await this.catchUp(behind);
        continue;
      }
      const request = tx.request();
      if (request.success.length === 0) return { result, index: this.applied };
      const res = await this.backend.txn(request);
      if (res.succeeded) {
        this.noteCommitted(request.success, res.revision);
        if (options.applied) await this.waitApplied(res.revision);
        await settle?.(res.revision, true);
        return { result: tx.finish(result, res.revision), index: res.revision };
      }
      // Lost a race: rebuild on the keys as the txn's failure branch read them, at once, rather
      // than wait for the mirror to catch up.
      fresh = freshReads(request.failure ?? [], res, fresh);
      await settle?.(res.revision, false);
    }
    throw new BerthError('conflict', 'Cannot write the key: it kept changing under 20 attempts; retry later');
  }

  /**
   * Resolve once the mirror shows every write this server committed to the key (with `prefix`,
   * to any key under it): what a read waits for so that a client reads its own writes.
   */
  settled(key: string, prefix: boolean): Promise<void> {
    const behind = this.unappliedRevision(prefix ? { keys: [], prefixes: [key] } : { keys: [KV_DATA + key], prefixes: [] });
    return behind > this.applied ? this.catchUp(behind) : Promise.resolve();
  }

  /** Wait for the mirror to apply `revision`, for at most CATCH_UP_MS; then fail `unavailable` rather than answer stale. */
  private async catchUp(revision: number): Promise<void> {
    await this.waitApplied(revision, CATCH_UP_MS);
    if (this.applied < revision && !this.closed) {
      throw new BerthError('unavailable', `Cannot read this server's own write at index ${revision}: its KV mirror has not applied it within ${CATCH_UP_MS} ms (the state backend is slow or unreachable); retry`);
    }
  }

  /** Remember the KV keys of a committed txn until the mirror applies their revision. */
  private noteCommitted(ops: Op[], revision: number): void {
    if (revision <= this.applied) return;
    // KvTx writes key by key (no deletePrefix), and joined catalog rows are outside KV_ROOT.
    for (const op of ops) if ((op.type === 'put' || op.type === 'delete') && op.key.startsWith(KV_ROOT)) this.unapplied.set(op.key, revision);
  }

  /**
   * The newest revision, not yet applied, at which this store wrote one of the backend keys or a
   * key under one of the user-key prefixes; 0 when none.
   */
  private unappliedRevision(read: { keys: Iterable<string>; prefixes: Iterable<string> }, fresh?: FreshReads): number {
    if (this.unapplied.size === 0) return 0;
    let newest = 0;
    for (const key of read.keys) {
      const revision = this.unapplied.get(key) ?? 0;
      if (!(fresh?.kvs.has(key) && fresh.revision >= revision)) newest = Math.max(newest, revision);
    }
    for (const prefix of read.prefixes) {
      const under = KV_DATA + prefix;
      for (const [key, revision] of this.unapplied) if (revision > newest && key.startsWith(under)) newest = revision;
    }
    return newest;
  }

  /** Resolve once the mirror applied `revision` (or at once if it did). */
  waitApplied(revision: number, timeoutMs?: number): Promise<void> {
    if (this.applied >= revision) return Promise.resolve();
    return new Promise((resolve) => {
      const waiter = { revision, resolve };
      this.appliedWaiters.push(waiter);
      if (timeoutMs === undefined) return;
      setTimeout(() => {
        this.appliedWaiters = this.appliedWaiters.filter((w) => w !== waiter);
        resolve();
      }, timeoutMs).unref?.();
    });
  }

  private apply(batch: WatchBatch): void {
    const changed: string[] = [];
    let sessionsChanged = false;
    for (const ev of batch.events) {
      if (ev.type === 'put') this.applyPut(ev.kv);
      else this.applyDelete(ev.kv.key, batch.revision);
      if (ev.kv.key.startsWith(KV_DATA)) changed.push(ev.kv.key.slice(KV_DATA.length));
      else sessionsChanged = true;
    }
    this.applied = batch.revision;
    if (this.unapplied.size > 0) for (const [key, revision] of this.unapplied) if (revision <= batch.revision) this.unapplied.delete(key);
    const ready = this.appliedWaiters.filter((w) => w.revision <= batch.revision);
    this.appliedWaiters = this.appliedWaiters.filter((w) => w.revision > batch.revision);
    for (const w of ready) w.resolve();
    for (const key of changed) this.wake(key);
    if (sessionsChanged) for (const l of [...this.sessionListeners]) l();
  }

  /** Wake the exact waiters of the key and the waiters of each of its prefixes. */
  private wake(key: string): void {
    for (const w of [...(this.exactWaiters.get(key) ?? [])]) w();
    if (this.prefixWaiters.size === 0) return;
    for (let i = 0; i <= key.length; i++) {
      const set = this.prefixWaiters.get(key.slice(0, i));
      if (set) for (const w of [...set]) w();
    }
  }

  private applyPut(kv: KeyValue): void {
    if (kv.key.startsWith(KV_DATA)) {
      const entry = decodeEntry(kv);
      this.entries.set(entry.Key, entry);
      this.tombstones.delete(entry.Key);
    } else if (kv.key.startsWith(KV_SESSIONS)) {
      const s = decodeSession(kv);
      this.sessions.set(s.ID, s);
    }
  }

  private applyDelete(key: string, revision: number): void {
    if (key.startsWith(KV_DATA)) {
      this.entries.delete(key.slice(KV_DATA.length));
      this.tombstones.set(key.slice(KV_DATA.length), revision);
    } else if (key.startsWith(KV_SESSIONS)) {
      this.sessions.delete(key.slice(KV_SESSIONS.length));
      this.sessionsDeletedAt = revision;
    }
  }

  /** The mod revision the backend holds for a backend key, per the mirror. */
  modRevisionOf(backendKey: string): number {
    if (backendKey.startsWith(KV_DATA)) return this.entries.get(backendKey.slice(KV_DATA.length))?.ModifyIndex ?? 0;
    return this.sessions.get(backendKey.slice(KV_SESSIONS.length))?.ModifyIndex ?? 0;
  }
}

/** The keys a lost txn's failure branch read, over those an earlier attempt read. */
function freshReads(failure: Op[], res: TxnResult, earlier: FreshReads | undefined): FreshReads {
  const kvs = new Map(earlier?.kvs);
  failure.forEach((op, i) => {
    if (op.type !== 'range' || !('key' in op.selector)) return;
    kvs.set(op.selector.key, res.responses[i]?.kvs[0] ?? null);
  });
  return { revision: res.revision, kvs };
}
