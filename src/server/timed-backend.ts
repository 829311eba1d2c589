import { stat } from 'node:fs/promises';
import type { Histogram } from 'prom-client';
import type { StateBackend } from '../state/index.ts';
import { timeCalls } from '../lib/index.ts';

/** The calls that are one request to the backend (a watch is a stream, and `close` an end). */
const TIMED = new Set<string | symbol>(['range', 'txn', 'put', 'delete', 'leaseGrant', 'leaseKeepAlive', 'leaseRevoke', 'compact', 'revision']);

/**
 * The backend with every request timed into `histogram` by operation: the server's view of its
 * backend's latency (an etcd round trip, a SQLite write). Everything else passes through as is.
 */
export function timedBackend(backend: StateBackend, histogram: Histogram<'op'>): StateBackend {
  return timeCalls(backend, TIMED, (op) => histogram.startTimer({ op }));
}

/** The bytes of a SQLite state (its file and write-ahead log); undefined for another backend. */
export async function stateFileBytes(backend: StateBackend): Promise<number | undefined> {
  const file = (backend as { path?: unknown }).path;
  if (backend.name !== 'sqlite' || typeof file !== 'string') return undefined;
  const size = (f: string): Promise<number> => stat(f).then((s) => s.size, () => 0);
  return (await size(file)) + (await size(`${file}-wal`));
}
