/**
 * The StateBackend contract: etcd's key/value model and nothing more. Keys and values are
 * strings; every write bumps one store-wide revision; a watch replays history from any revision
 * not yet compacted. Three backends implement it: memory (tests), sqlite (default), etcd (HA).
 */

/** A stored key, as etcd returns it. */
export interface KeyValue {
  key: string;
  value: string;
  /** Revision of the write that created the key (reset when it is deleted and created again). */
  createRevision: number;
  /** Revision of the last write to the key. */
  modRevision: number;
  /** Number of writes since creation, starting at 1. */
  version: number;
  /** Lease the key is attached to, 0 for none. */
  lease: number;
}

/** Selects one key, or every key starting with `prefix` (an empty prefix selects every key). */
export type KeySelector = { key: string } | { prefix: string };

/** How to read a range. */
export interface RangeOptions {
  /**
   * Read as of this revision. Default (or 0): the latest. Throws `CompactedError` below the compact
   * revision and `invalid_input` above the current revision, as etcd does.
   */
  revision?: number;
  /** At most this many keys, in key order. Default (or 0): all. */
  limit?: number;
  /** Only count the keys. */
  countOnly?: boolean;
}

/** Keys read, sorted by key (UTF-8 byte order, as etcd). */
export interface RangeResult {
  kvs: KeyValue[];
  /** Keys matched, before `limit`. */
  count: number;
  /** The store's revision when read. */
  revision: number;
}

/**
 * A condition on one key, evaluated before any op of the txn. A missing key has revisions and
 * version 0, as in etcd, so `{key, target: 'createRevision', op: '=', value: 0}` means "does not
 * exist"; a `value` compare on a missing key always fails, whatever the operator (etcd does so
 * because it cannot tell a missing value from an empty one). Values compare as UTF-8 bytes.
 */
export type Compare =
  | { key: string; target: 'value'; op: '=' | '!=' | '<' | '>'; value: string }
  | { key: string; target: 'createRevision' | 'modRevision' | 'version'; op: '=' | '!=' | '<' | '>'; value: number };

/**
 * One write or read inside a txn. Ops run in order and a range sees the writes before it. As in
 * etcd, one branch may not write a key twice (two puts, or a put inside a delete): the txn is
 * rejected with `invalid_input`. A put with an unknown lease rejects the txn with `not_found`.
 */
export type Op =
  | { type: 'put'; key: string; value: string; lease?: number }
  | { type: 'delete'; key: string }
  | { type: 'deletePrefix'; prefix: string }
  | { type: 'range'; selector: KeySelector };

/** A conditional write: `success` runs when every compare holds, else `failure`. */
export interface TxnRequest {
  compare: Compare[];
  success: Op[];
  failure?: Op[];
}

/** What a txn did. A txn that changed no key does not bump the revision. */
export interface TxnResult {
  succeeded: boolean;
  /** The store's revision after the txn: a new one if it wrote anything. */
  revision: number;
  /** One entry per executed op: the range result for a range, else null. */
  responses: (RangeResult | null)[];
}

/**
 * A change seen by a watch. As in etcd, the `kv` of a delete carries only the key and the delete's
 * revision as `modRevision` (value '', createRevision, version and lease 0); `prevKv` (when asked)
 * is the key as it was. Treat events as read-only: several watchers may share them.
 */
export interface WatchEvent {
  type: 'put' | 'delete';
  kv: KeyValue;
  prevKv?: KeyValue;
}

/** Events of one revision (one txn), delivered in revision order. */
export interface WatchBatch {
  revision: number;
  events: WatchEvent[];
}

/** Where a watch starts and what it carries. */
export interface WatchOptions {
  /**
   * Deliver changes from this revision on (inclusive); history still in the log is replayed first.
   * Default (or 0): the next revision. A revision in the future is waited for.
   */
  fromRevision?: number;
  /** Include the previous value of each key. Default: false. */
  prevKv?: boolean;
  /**
   * Called when the watch fails: a compacted start revision (`CompactedError`), a lost backend, or
   * an exception thrown by the callback. The watch is over after an error, except a callback's
   * exception. Without it, a failure to start rejects the promise that `watch` returns and other
   * errors are rethrown asynchronously, so none is silent.
   */
  onError?: (err: Error) => void;
}

/** A running watch. */
export interface Watcher {
  /** Stop delivering; batches not yet delivered are dropped. */
  cancel(): void;
}

/** Receives one revision's matching events at a time, in revision order. */
export type WatchCallback = (batch: WatchBatch) => void;

/**
 * A granted lease. Ids are positive integers below 2^53 (an etcd backend must grant ids in that
 * range, etcd lets the client choose them).
 */
export interface Lease {
  id: number;
  ttlSeconds: number;
}

/** The contract every state backend keeps. See `contract.test-suite.ts`. */
export interface StateBackend {
  /** Human name for logs and metrics: memory, sqlite, etcd. */
  readonly name: string;
  range(selector: KeySelector, options?: RangeOptions): Promise<RangeResult>;
  txn(request: TxnRequest): Promise<TxnResult>;
  /** Shorthand for an unconditional txn with one put. */
  put(key: string, value: string, options?: { lease?: number }): Promise<number>;
  /** Shorthand for an unconditional txn with one delete; returns the number of keys deleted. */
  delete(selector: KeySelector): Promise<{ deleted: number; revision: number }>;
  /**
   * Watch keys. The promise settles once the watch is established: every write after that is
   * delivered. Callbacks run asynchronously, one batch (one revision) at a time, in order.
   */
  watch(selector: KeySelector, callback: WatchCallback, options?: WatchOptions): Promise<Watcher>;
  /**
   * Grant a lease; keys put with it are deleted, in one revision, when it expires or is revoked.
   * The granted TTL may be longer than asked (etcd has a minimum).
   */
  leaseGrant(ttlSeconds: number): Promise<Lease>;
  /** Extend a lease to its full TTL again. Throws `not_found` for an expired or unknown lease. */
  leaseKeepAlive(id: number): Promise<void>;
  /** Revoke a lease now, deleting its keys. Throws `not_found` for an expired or unknown lease. */
  leaseRevoke(id: number): Promise<void>;
  /**
   * Forget history before `revision`: ranges and watches before it then throw `CompactedError`.
   * Throws `CompactedError` when `revision` is already compacted, `invalid_input` when it is in the
   * future.
   */
  compact(revision: number): Promise<void>;
  /** The latest revision. */
  revision(): Promise<number>;
  /** Stop timers and watches and release the store. Calls after it throw `unavailable`. */
  close(): Promise<void>;
}

/** Thrown for a read or watch at a compacted revision. */
export class CompactedError extends Error {
  readonly compactRevision: number;
  constructor(requested: number, compactRevision: number) {
    super(`Cannot read revision ${requested}: history before revision ${compactRevision} was compacted`);
    this.name = 'CompactedError';
    this.compactRevision = compactRevision;
  }
}

/**
 * The smallest key above every key that starts with `prefix` (etcd's range end for a prefix), or
 * undefined when there is none (an empty prefix, or one of only U+10FFFF). Keys order by code
 * point, which is UTF-8 byte order, so this increments the last code point.
 */
export function prefixEnd(prefix: string): string | undefined {
  const points = Array.from(prefix);
  while (points.length > 0) {
    const last = points.pop()!.codePointAt(0)!;
    if (last < 0x10ffff) {
      // Lone surrogates are not valid in UTF-8: the successor of U+D7FF is U+E000.
      points.push(String.fromCodePoint(last === 0xd7ff ? 0xe000 : last + 1));
      return points.join('');
    }
  }
  return undefined;
}

/**
 * Compares keys (or values) in UTF-8 byte order, the order etcd and SQLite use. JavaScript's `<`
 * compares UTF-16 code units, which puts U+E000..U+FFFF above characters beyond U+FFFF.
 */
export function compareKeys(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x !== y) {
      if (x >= 0xd800 && y >= 0xd800) {
        if (x <= 0xdfff) x += 0x2800;
        if (y <= 0xdfff) y += 0x2800;
      }
      return x - y;
    }
  }
  return a.length - b.length;
}

/** True when `key` is matched by the selector. */
export function selects(selector: KeySelector, key: string): boolean {
  return 'key' in selector ? key === selector.key : key.startsWith(selector.prefix);
}
