/**
 * The state backends the HTTP API tests run on, one suite each: memory, a real SQLite file in a
 * temp dir, and a real etcd when one is installed (one member for the whole test file, stopped
 * after it; each test starts from an empty key space). Under CI a missing etcd fails (see
 * etcd.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after } from 'node:test';
import { EtcdBackend, MemoryBackend, SqliteBackend, type StateBackend } from '../state/index.ts';
import { etcdSkipReason, startEtcd, type EtcdCluster } from './etcd.ts';

/** One backend to run a suite on. */
export interface TestBackend {
  name: 'memory' | 'sqlite' | 'etcd';
  /** A new, empty backend. */
  open(): Promise<StateBackend>;
  /** Compact its history up to `revision`, as the backend's own retention would. */
  compact(backend: StateBackend, revision: number): Promise<void>;
}

/** The backends, in order; call once, at the top of a test file. */
export function testBackends(): TestBackend[] {
  let etcd: EtcdCluster | undefined;
  after(() => etcd?.stop());
  const backends: TestBackend[] = [
    { name: 'memory', open: async () => new MemoryBackend(), compact: async (b, rev) => (b as MemoryBackend).compact(rev) },
    {
      name: 'sqlite',
      open: async () => SqliteBackend.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-http-')), 'state.db')),
      compact: async (b, rev) => (b as SqliteBackend).compact(rev),
    },
  ];
  if (etcdSkipReason()) return backends;
  backends.push({
    name: 'etcd',
    open: async () => {
      etcd ??= await startEtcd();
      const backend = await EtcdBackend.open(etcd.endpoints);
      await backend.delete({ prefix: '/berth/' });
      return backend;
    },
    compact: (b, rev) => (b as EtcdBackend).compact(rev),
  });
  return backends;
}
