import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { TaskStartRequest } from '../../drivers/index.ts';
import { silentLogger } from '../../lib/index.ts';
import type { Allocation, Job, Task, UpstreamSpec } from '../../model/index.ts';
import type { HookedAlloc, HookedTask } from '../allocs/alloc-hook.ts';
import { upstreamsHook } from './upstreams.ts';

const upstream = (service: string, localBindPort: number): UpstreamSpec => ({
  service, localBindPort, policy: 'round-robin', connectTimeoutMs: 5000, retries: 2, outlier: { consecutiveFailures: 5, baseEjectionMs: 30_000, maxEjectionMs: 300_000 },
});

function hooked(task: Partial<Task>, driverName: 'docker' | 'process', config: Record<string, unknown> = {}): HookedTask {
  return { task: { name: 't', config: {}, env: {}, resources: { cpu: 0.1, memoryMiB: 64 }, killTimeoutMs: 1000, ...task }, driverName, taskDir: '/tmp/x', request: { env: {}, config } as unknown as TaskStartRequest };
}

const alloc = {
  alloc: { group: 'g' } as Allocation,
  job: { groups: [{ name: 'g', upstreams: [upstream('db', 5432)] }] } as unknown as Job,
  handle: () => undefined,
  taskNames: () => ['t'],
} satisfies HookedAlloc;

describe('upstreams hook', () => {
  it("gives a process task loopback addresses for its group's and its own upstreams", () => {
    const t = hooked({ upstreams: [upstream('cache-2', 6379)] }, 'process');
    upstreamsHook(alloc, { bridgeAddress: '172.17.0.1', logger: silentLogger() }).prestart!(t);
    assert.deepEqual(t.request.env, { BERTH_UPSTREAM_ADDR_db: '127.0.0.1:5432', BERTH_UPSTREAM_ADDR_cache_2: '127.0.0.1:6379' });
  });

  it('gives a container the bridge gateway, and loopback on the host network', () => {
    const bridged = hooked({}, 'docker');
    upstreamsHook(alloc, { bridgeAddress: '172.17.0.1', logger: silentLogger() }).prestart!(bridged);
    assert.equal(bridged.request.env.BERTH_UPSTREAM_ADDR_db, '172.17.0.1:5432');
    const host = hooked({}, 'docker', { networkMode: 'host' });
    upstreamsHook(alloc, { bridgeAddress: '172.17.0.1', logger: silentLogger() }).prestart!(host);
    assert.equal(host.request.env.BERTH_UPSTREAM_ADDR_db, '127.0.0.1:5432');
  });
});
