/**
 * The txn rules shared by the in-process backends: which requests are valid, how compares
 * evaluate, and what each op does to the keys. Storage-agnostic and synchronous.
 */
import { BerthError } from '../model/index.ts';
import { compareKeys } from './backend.ts';
import type { Compare, KeySelector, KeyValue, Op, RangeResult, TxnRequest, WatchEvent } from './backend.ts';

/** The key access a txn needs, inside one atomic unit of the storage. */
export interface TxnTarget {
  get(key: string): KeyValue | undefined;
  /** Current keys matched, sorted by key; at most `limit` of them (0: all). */
  range(selector: KeySelector, limit: number): KeyValue[];
  /** Store `kv`, which replaces `previous` (undefined for a new key). */
  set(kv: KeyValue, previous: KeyValue | undefined): void;
  /** Delete the key `previous` describes. */
  remove(previous: KeyValue): void;
  hasLease(id: number): boolean;
}

/** What a branch did: one response per op and the events of the new revision. */
export interface OpsOutcome {
  responses: (RangeResult | null)[];
  events: WatchEvent[];
}

/** Rejects a request that etcd would reject before evaluating it: a branch writing a key twice. */
export function checkTxnRequest(request: TxnRequest): void {
  checkBranch(request.success);
  if (request.failure) checkBranch(request.failure);
}

function checkBranch(ops: Op[]): void {
  const puts = new Set<string>();
  const deletedKeys = new Set<string>();
  const deletedPrefixes: string[] = [];
  for (const op of ops) {
    if (op.type === 'delete') deletedKeys.add(op.key);
    else if (op.type === 'deletePrefix') deletedPrefixes.push(op.prefix);
  }
  for (const op of ops) {
    if (op.type !== 'put') continue;
    if (puts.has(op.key) || deletedKeys.has(op.key) || deletedPrefixes.some((p) => op.key.startsWith(p))) {
      throw new BerthError('invalid_input', `Cannot run txn: key "${op.key}" is written twice in one branch`);
    }
    puts.add(op.key);
  }
}

/** Evaluates one compare against the key's state before the txn (undefined: missing). */
export function compareHolds(compare: Compare, kv: KeyValue | undefined): boolean {
  let diff: number;
  if (compare.target === 'value') {
    if (!kv) return false;
    diff = compareKeys(kv.value, compare.value);
  } else {
    diff = (kv ? kv[compare.target] : 0) - compare.value;
  }
  switch (compare.op) {
    case '=':
      return diff === 0;
    case '!=':
      return diff !== 0;
    case '<':
      return diff < 0;
    case '>':
      return diff > 0;
  }
}

/** Throws `not_found` when a put names a lease that does not exist; call before `runOps`. */
export function checkLeases(target: TxnTarget, ops: Op[]): void {
  for (const op of ops) {
    if (op.type === 'put' && op.lease && !target.hasLease(op.lease)) {
      throw new BerthError('not_found', `Cannot put "${op.key}": lease ${op.lease} not found`);
    }
  }
}

/**
 * Runs a branch's ops in order at revision `revision` (used only if something changes). Range
 * responses get revision 0; the caller fills in the revision the txn ends at.
 */
export function runOps(target: TxnTarget, ops: Op[], revision: number): OpsOutcome {
  const responses: (RangeResult | null)[] = [];
  const events: WatchEvent[] = [];
  for (const op of ops) {
    switch (op.type) {
      case 'put': {
        const prev = target.get(op.key);
        const kv: KeyValue = {
          key: op.key,
          value: op.value,
          createRevision: prev ? prev.createRevision : revision,
          modRevision: revision,
          version: prev ? prev.version + 1 : 1,
          lease: op.lease ?? 0,
        };
        target.set(kv, prev);
        events.push(prev ? { type: 'put', kv, prevKv: prev } : { type: 'put', kv });
        responses.push(null);
        break;
      }
      case 'delete': {
        const prev = target.get(op.key);
        if (prev) deleteKey(target, prev, revision, events);
        responses.push(null);
        break;
      }
      case 'deletePrefix': {
        for (const prev of target.range({ prefix: op.prefix }, 0)) deleteKey(target, prev, revision, events);
        responses.push(null);
        break;
      }
      case 'range': {
        const kvs = target.range(op.selector, 0);
        responses.push({ kvs, count: kvs.length, revision: 0 });
        break;
      }
    }
  }
  return { responses, events };
}

function deleteKey(target: TxnTarget, prev: KeyValue, revision: number, events: WatchEvent[]): void {
  target.remove(prev);
  events.push({ type: 'delete', kv: tombstone(prev.key, revision), prevKv: prev });
}

/** The kv of a delete event, as etcd reports it. */
export function tombstone(key: string, revision: number): KeyValue {
  return { key, value: '', createRevision: 0, modRevision: revision, version: 0, lease: 0 };
}
