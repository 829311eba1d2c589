import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AddressMode, TaskNetwork } from '../../model/index.ts';
import { mockAllocFor, mockGroup, mockJob, mockNode, mockTask } from '../../testing/index.ts';
import { deriveInstances } from './derive.ts';

/** A running allocation of a job whose task `web` declares service `api` on label http (host 21000, container 8080). */
function fixture(mode: AddressMode, network: TaskNetwork | undefined, onGroup = false) {
  const service = { name: 'api', portLabel: 'http', tags: [], meta: {}, addressMode: mode, checks: [] };
  const job = mockJob({
    groups: [
      mockGroup({
        ports: [{ label: 'http', to: 8080 }],
        services: onGroup ? [service] : [],
        tasks: [mockTask({ name: 'sidecar' }), mockTask({ name: 'web', services: onGroup ? [] : [service] })],
      }),
    ],
  });
  const node = mockNode({ address: '10.0.0.1' });
  const running = { state: 'running' as const, failed: false, restarts: 0, events: [] };
  const alloc = mockAllocFor(job, node, {
    ports: [{ label: 'http', value: 21000, to: 8080 }],
    taskStates: { sidecar: running, web: { ...running, ...(network ? { network } : {}) } },
  });
  return deriveInstances({ alloc, job, node, previous: () => undefined, now: 0, index: 1 }).map((i) => `${i.address}:${i.port}`);
}

const bridge: TaskNetwork = { ip: '172.17.0.5', autoAdvertise: false };
const overlay: TaskNetwork = { ip: '10.88.0.7', autoAdvertise: true };

describe('deriveInstances: address_mode', () => {
  it('host: the node address and the host port, whatever the driver has', () => {
    assert.deepEqual(fixture('host', overlay), ['10.0.0.1:21000']);
  });

  it("driver: the task's own address and the port inside the container", () => {
    assert.deepEqual(fixture('driver', bridge), ['172.17.0.5:8080']);
  });

  it('driver without an address of its own (a process, host networking): not registered', () => {
    assert.deepEqual(fixture('driver', undefined), []);
  });

  it("auto: the driver's address only when it advertises one (not the default bridge)", () => {
    assert.deepEqual(fixture('auto', bridge), ['10.0.0.1:21000']);
    assert.deepEqual(fixture('auto', overlay), ['10.88.0.7:8080']);
    assert.deepEqual(fixture('auto', undefined), ['10.0.0.1:21000']);
  });

  it('a group service takes the address of the first task that has one', () => {
    assert.deepEqual(fixture('driver', bridge, true), ['172.17.0.5:8080']);
  });
});
