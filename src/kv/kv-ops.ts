/**
 * Consul's KV writes over a `KvTx`: put with cas, flags, acquire and release; delete with cas
 * and recurse; and the verbs of `/v1/txn`. Each returns what Consul answers (true/false, or the
 * entry) and writes nothing when it answers false.
 */
import { BerthError } from '../model/index.ts';
import type { KvEntry } from './entries.ts';
import type { KvTx } from './kv-tx.ts';

/** Options of a PUT, as Consul's query string. */
export interface PutOptions {
  flags?: number;
  /** 0: only if absent; N: only if the key's ModifyIndex is N. */
  cas?: number;
  /** Take the lock with this session. */
  acquire?: string;
  /** Give up the lock held by this session. */
  release?: string;
}

/** Refuses acquires of keys still in lock-delay. */
export type LockDelayCheck = (key: string) => boolean;

/** One key to put: where, what, and how (`PutOptions`). */
export interface KeyPut extends PutOptions {
  key: string;
  value: string | null;
}

/** PUT /v1/kv/:key. */
export function putKey(tx: KvTx, put: KeyPut, inLockDelay: LockDelayCheck): boolean {
  const { key, value, ...opts } = put;
  const prev = tx.entry(key);
  if (opts.cas !== undefined) {
    if (opts.cas === 0 && prev) return false;
    if (opts.cas !== 0 && prev?.ModifyIndex !== opts.cas) return false;
  }
  const flags = opts.flags ?? 0;
  if (opts.acquire !== undefined) {
    const session = tx.session(opts.acquire);
    if (!session) throw new BerthError('invalid_input', `Cannot acquire "${key}": session "${opts.acquire}" does not exist or has ended (create one with PUT /v1/session/create)`);
    if (prev?.Session && prev.Session !== opts.acquire) return false;
    if (prev?.Session === opts.acquire) {
      tx.set(key, { Value: value, Flags: flags, LockIndex: prev.LockIndex, Session: opts.acquire });
      return true;
    }
    if (inLockDelay(key)) return false;
    tx.set(key, { Value: value, Flags: flags, LockIndex: (prev?.LockIndex ?? 0) + 1, Session: opts.acquire });
    return true;
  }
  if (opts.release !== undefined) {
    if (!tx.session(opts.release) && prev?.Session !== opts.release) {
      throw new BerthError('invalid_input', `Cannot release "${key}": session "${opts.release}" does not exist or has ended`);
    }
    if (prev?.Session !== opts.release) return false;
    tx.set(key, { Value: value, Flags: flags, LockIndex: prev.LockIndex });
    return true;
  }
  // A plain set keeps the lock holder, as Consul does.
  tx.set(key, { Value: value, Flags: flags, LockIndex: prev?.LockIndex ?? 0, Session: prev?.Session });
  return true;
}

/** DELETE /v1/kv/:key. `cas` applies to a single key only. */
export function deleteKey(tx: KvTx, key: string, opts: { recurse?: boolean; cas?: number }): boolean {
  if (opts.recurse) {
    for (const e of tx.list(key)) tx.delete(e.Key);
    return true;
  }
  const prev = tx.entry(key);
  if (opts.cas !== undefined) {
    // Consul: cas=0 never matches an existing key; a missing key is a successful no-op.
    if (!prev) return opts.cas === 0 ? true : false;
    if (prev.ModifyIndex !== opts.cas) return false;
  }
  tx.delete(key);
  return true;
}

/** One `KV` operation of `/v1/txn`, Consul's field names. */
export interface TxnKvOp {
  Verb: string;
  Key: string;
  Value?: string | null;
  Flags?: number;
  Index?: number;
  Session?: string;
}

/** The verbs Consul's txn accepts for KV. */
export const TXN_VERBS = ['set', 'cas', 'lock', 'unlock', 'get', 'get-or-empty', 'get-tree', 'check-index', 'check-session', 'check-not-exists', 'delete', 'delete-tree', 'delete-cas'] as const;

/** The outcome of one op: entries to return, or why the txn rolls back. */
export type TxnOpOutcome = { ok: true; entries: KvEntry[] } | { ok: false; what: string };

/** Run one txn op against the txn's view of the keys. */
export function runTxnOp(tx: KvTx, op: TxnKvOp, inLockDelay: LockDelayCheck): TxnOpOutcome {
  try {
    return runOp(tx, op, inLockDelay);
  } catch (err) {
    // An unknown session in lock/unlock rolls the txn back with its reason, as Consul.
    if (err instanceof BerthError && err.code === 'invalid_input') return { ok: false, what: err.message };
    throw err;
  }
}

function runOp(tx: KvTx, op: TxnKvOp, inLockDelay: LockDelayCheck): TxnOpOutcome {
  const key = op.Key;
  const value = op.Value ?? null;
  const flags = op.Flags ?? 0;
  const fail = (what: string): TxnOpOutcome => ({ ok: false, what });
  const current = (): KvEntry[] => {
    const e = tx.entry(key);
    return e ? [e] : [];
  };
  switch (op.Verb) {
    case 'set':
      return { ok: true, entries: [setOrFail(tx, { key, value, flags }, inLockDelay)] };
    case 'cas': {
      if (!putKey(tx, { key, value, flags, cas: op.Index ?? 0 }, inLockDelay)) return fail(`failed to set key "${key}", index is stale`);
      return { ok: true, entries: current() };
    }
    case 'lock':
      if (!putKey(tx, { key, value, flags, acquire: op.Session ?? '' }, inLockDelay)) return fail(`failed to lock key "${key}", lock is already held`);
      return { ok: true, entries: current() };
    case 'unlock':
      if (!putKey(tx, { key, value, flags, release: op.Session ?? '' }, inLockDelay)) return fail(`failed to unlock key "${key}", lock isn't held, or is held by another session`);
      return { ok: true, entries: current() };
    case 'get': {
      const e = tx.entry(key);
      return e ? { ok: true, entries: [e] } : fail(`key "${key}" doesn't exist`);
    }
    case 'get-or-empty':
      // Consul answers a missing key with an empty entry of that key.
      return { ok: true, entries: [tx.entry(key) ?? { Key: key, Value: null, Flags: 0, CreateIndex: 0, ModifyIndex: 0, LockIndex: 0 }] };
    case 'get-tree':
      return { ok: true, entries: tx.list(key) };
    case 'check-index': {
      const e = tx.entry(key);
      if (!e) return fail(`key "${key}" doesn't exist`);
      return e.ModifyIndex === (op.Index ?? 0) ? { ok: true, entries: [e] } : fail(`current modify index ${e.ModifyIndex} != ${op.Index ?? 0}`);
    }
    case 'check-session': {
      const e = tx.entry(key);
      if (!e) return fail(`key "${key}" doesn't exist`);
      return (e.Session ?? '') === (op.Session ?? '') ? { ok: true, entries: [e] } : fail(`current session ${e.Session ?? '""'} != ${op.Session ?? '""'}`);
    }
    case 'check-not-exists':
      return tx.entry(key) ? fail(`key "${key}" exists`) : { ok: true, entries: [] };
    case 'delete':
      deleteKey(tx, key, {});
      return { ok: true, entries: [] };
    case 'delete-tree':
      deleteKey(tx, key, { recurse: true });
      return { ok: true, entries: [] };
    case 'delete-cas':
      return deleteKey(tx, key, { cas: op.Index ?? 0 }) ? { ok: true, entries: [] } : fail(`failed to delete key "${key}", index is stale`);
    default:
      return fail(`unknown KV verb "${op.Verb}" (use one of ${TXN_VERBS.join(', ')})`);
  }
}

function setOrFail(tx: KvTx, put: KeyPut, inLockDelay: LockDelayCheck): KvEntry {
  putKey(tx, put, inLockDelay);
  return tx.entry(put.key)!;
}

/** Only the reads (`get`, `get-or-empty`, `get-tree`) answer with values; writes and checks answer without, as Consul. */
export function txnReturnsValue(verb: string): boolean {
  return verb === 'get' || verb === 'get-or-empty' || verb === 'get-tree';
}
