import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../../model/index.ts';
import { offeredResources, registrationRequest } from './node-settings.ts';
import type { Fingerprint } from './fingerprint.ts';

const facts: Fingerprint = { attributes: { 'cpu.cores': '4', 'memory.totalMiB': '8192' }, drivers: {}, resources: { cpu: 4, memoryMiB: 8192 } };

describe('node settings', () => {
  it('a node offers the host less what is reserved for it', () => {
    const req = registrationRequest({ nodeId: 'n1', settings: { reserved: { cpu: 0.5, memoryMiB: 1024 } }, facts, httpAddr: 'http://10.0.0.2:4000' });
    assert.deepEqual(req.resources, { cpu: 3.5, memoryMiB: 7168 });
    assert.equal(req.attributes['cpu.reserved'], '0.5');
    assert.equal(req.attributes['memory.reservedMiB'], '1024');
    assert.equal(req.attributes['cpu.cores'], '4');
  });

  it('offers the whole host when nothing is reserved', () => {
    assert.deepEqual(offeredResources(facts.resources), { ok: true, value: { cpu: 4, memoryMiB: 8192 } });
    assert.deepEqual(offeredResources(facts.resources, { cpu: 0, memoryMiB: 0 }), { ok: true, value: { cpu: 4, memoryMiB: 8192 } });
  });

  it('refuses a reserve that leaves nothing for tasks', () => {
    const cpu = offeredResources(facts.resources, { cpu: 4 });
    assert.match(!cpu.ok ? cpu.error : '', /--reserve-cpu 4 keeps all of this host's 4 cores.*reserve less than 4/);
    const mem = offeredResources(facts.resources, { memoryMiB: 9000 });
    assert.match(!mem.ok ? mem.error : '', /--reserve-memory 9000Mi keeps all of this host's 8Gi.*reserve less than 8Gi/);
    assert.throws(() => registrationRequest({ nodeId: 'n1', settings: { reserved: { cpu: 8 } }, facts, httpAddr: 'http://x:1' }), (e) => isBerthError(e, 'invalid_input'));
  });

  it('takes the port range it is given', () => {
    const req = registrationRequest({ nodeId: 'n1', settings: { portRange: { min: 21000, max: 21999 } }, facts, httpAddr: 'http://x:1' });
    assert.deepEqual(req.portRange, { min: 21000, max: 21999 });
  });
});
