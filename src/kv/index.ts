/**
 * The KV layer: Consul's key/value store with CAS, prefix reads, blocking reads per key or prefix,
 * `/v1/txn`, sessions and locks, on top of the state backend.
 */
export { KV_DATA, KV_ROOT, KV_SESSIONS, KV_SESSION_ENDS, MAX_VALUE_BYTES, ValueTooLargeError, checkKey, toValue } from './entries.ts';
export type { KvEntry } from './entries.ts';
export { KvStore } from './kv-store.ts';
export type { KvWriteOptions } from './kv-store.ts';
export { TXN_VERBS } from './kv-ops.ts';
export type { PutOptions, TxnKvOp } from './kv-ops.ts';
export { KvService, MAX_TXN_OPS } from './kv-service.ts';
export type { TxnAttempt, TxnOp, TxnOutcome, TxnParticipant, TxnResult } from './kv-service.ts';
export { Sessions, parseDurationMs } from './sessions.ts';
export type { SessionCreate, SessionHealth } from './sessions.ts';
export type { SessionRecord } from './session-types.ts';
