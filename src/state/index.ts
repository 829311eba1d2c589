/**
 * The state layer: the StateBackend contract and its backends (memory, sqlite, etcd), the typed
 * view every server keeps, its snapshots, and typed writes.
 */
export type {
  Compare,
  KeySelector,
  KeyValue,
  Lease,
  Op,
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
export { CompactedError, compareKeys, prefixEnd, selects } from './backend.ts';
export { EtcdBackend } from './etcd-backend.ts';
export type { EtcdBackendOptions } from './etcd-backend.ts';
export type { LocalBackendOptions } from './local-backend.ts';
export { MemoryBackend } from './memory-backend.ts';
export type { MemoryBackendOptions } from './memory-backend.ts';
export { SqliteBackend } from './sqlite-backend.ts';
export type { SqliteBackendOptions } from './sqlite-backend.ts';
export { StateReader, StateSnapshot } from './snapshot.ts';
export { StateView } from './view.ts';
export type { ChangeListener, StateViewOptions, TableChange } from './view.ts';
export { StateStore } from './store.ts';
export type { CommitResult, StateStoreOptions, Write } from './store.ts';
export { STATE_PREFIX, TABLES, keyOf, runRowId, tablePrefix } from './tables.ts';
export type { Table, TableRow } from './tables.ts';
