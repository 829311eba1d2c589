/** Backends and rows for the state layer's own tests. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Allocation, Evaluation, Job, Node } from '../model/index.ts';
import type { StateBackend } from './backend.ts';
import { MemoryBackend } from './memory-backend.ts';
import { SqliteBackend } from './sqlite-backend.ts';

/** A backend under test and how to dispose of it. */
export interface TestBackend {
  backend: StateBackend;
  cleanup(): Promise<void>;
}

/** Every backend the typed layer is tested on. */
export const testBackends: { name: string; open: () => Promise<TestBackend> }[] = [
  {
    name: 'memory',
    open: async () => {
      const backend = new MemoryBackend();
      return { backend, cleanup: () => backend.close() };
    },
  },
  {
    name: 'sqlite',
    open: async () => {
      const dir = mkdtempSync(join(tmpdir(), 'berth-state-test-'));
      const backend = await SqliteBackend.open(join(dir, 'state.db'));
      return {
        backend,
        cleanup: async () => {
          await backend.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
];

export function job(id: string, overrides: Partial<Job> = {}): Job {
  return { id, type: 'service', priority: 50, datacenters: ['dc1'], groups: [], meta: {}, version: 0, stop: false, submitTime: 0, ...overrides };
}

export function alloc(id: string, jobId: string, nodeId: string, overrides: Partial<Allocation> = {}): Allocation {
  return {
    id,
    name: `${jobId}.web[0]`,
    jobId,
    jobVersion: 0,
    group: 'web',
    index: 0,
    nodeId,
    evalId: 'eval-1',
    desiredStatus: 'run',
    clientStatus: 'pending',
    taskStates: {},
    resources: { cpu: 0.5, memoryMiB: 256 },
    ports: [],
    createTime: 0,
    modifyTime: 0,
    ...overrides,
  };
}

export function node(id: string, overrides: Partial<Node> = {}): Node {
  return {
    id,
    name: id,
    datacenter: 'dc1',
    address: '127.0.0.1',
    httpAddr: '127.0.0.1:7461',
    status: 'ready',
    eligible: true,
    attributes: {},
    drivers: {},
    defaultDriver: 'process',
    resources: { cpu: 4, memoryMiB: 8192 },
    portRange: { min: 20000, max: 32000 },
    lastHeartbeat: 0,
    ...overrides,
  };
}

export function evaluation(id: string, jobId: string, overrides: Partial<Evaluation> = {}): Evaluation {
  return { id, jobId, priority: 50, triggeredBy: 'job-register', status: 'pending', failures: [], createTime: 0, modifyTime: 0, ...overrides };
}
