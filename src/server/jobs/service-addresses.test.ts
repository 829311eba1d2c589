import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Group } from '../../model/index.ts';
import { MemoryBackend, StateStore, StateView } from '../../state/index.ts';
import { jobServicePorts, parseAddressRange, serviceAddressWrites } from './service-addresses.ts';

const group = (service: string, ports: Group['ports'] = [{ label: 'http', to: 8080 }]): Group =>
  ({ name: 'g', count: 1, tasks: [], ports, restart: { attempts: 0, intervalMs: 1, delayMs: 1, mode: 'fail' }, services: [{ name: service, portLabel: 'http', tags: [], meta: {}, addressMode: 'auto', checks: [] }] }) as Group;

describe('service addresses', () => {
  it('refuses the second of two writes that claimed one address, and its rebuild takes the next', async () => {
    const backend = new MemoryBackend();
    const view = await StateView.open(backend);
    const store = new StateStore(backend, view);
    const range = parseAddressRange('10.0.0.0/29');
    const a = serviceAddressWrites(view, [group('a')], range);
    const b = serviceAddressWrites(view, [group('b')], range);
    assert.equal(a[0].id, '10.0.0.1');
    assert.equal(b[0].id, '10.0.0.1', 'both read the same view');
    assert.ok((await store.commit(a)).ok);
    assert.equal((await store.commit(b)).ok, false, 'the compare on the address refuses the second');
    assert.equal(serviceAddressWrites(view, [group('b')], range)[0].id, '10.0.0.2');
    view.close();
  });

  it('says when the range is used up, naming the flag', async () => {
    const backend = new MemoryBackend();
    const view = await StateView.open(backend);
    const store = new StateStore(backend, view);
    const range = parseAddressRange('10.0.0.0/30');
    assert.ok((await store.commit(serviceAddressWrites(view, [group('a'), group('b')], range))).ok);
    assert.throws(() => serviceAddressWrites(view, [group('c')], range), /every address of 10\.0\.0\.0\/30 is taken; start the servers with a larger --service-address-range/);
    view.close();
  });

  it('takes a port label\'s to, else its static port, and none for a dynamic one', () => {
    const ports = jobServicePorts([group('a', [{ label: 'http', static: 9000 }]), group('b', [{ label: 'http' }]), group('a')]);
    assert.deepEqual([...ports].map(([n, p]) => [n, [...p]]), [['a', [9000, 8080]], ['b', []]]);
  });
});
