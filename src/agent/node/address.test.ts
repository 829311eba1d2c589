import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isLoopback, nodeAddresses, resolveNodeAddresses, routeSourceAddress } from './address.ts';

describe('node addresses', () => {
  it('knows loopback addresses and names', () => {
    for (const h of ['127.0.0.1', '127.5.0.1', '::1', '[::1]', 'localhost', 'LOCALHOST']) assert.equal(isLoopback(h), true, h);
    for (const h of ['10.0.0.1', '0.0.0.0', '::', 'berth-1.example.com', '192.168.1.127']) assert.equal(isLoopback(h), false, h);
  });

  it('the route towards a server on this host starts at loopback', async () => {
    assert.equal(await routeSourceAddress('http://127.0.0.1:7460'), '127.0.0.1');
    assert.equal(await routeSourceAddress('http://localhost:7460'), '127.0.0.1');
  });

  it('advertises the address of the interface that reaches the server when none is given', () => {
    const r = nodeAddresses({ remoteServer: 'http://10.0.0.1:7460', routeSource: '10.0.0.2' });
    assert.deepEqual(r, { ok: true, value: { address: '10.0.0.2', httpHost: '10.0.0.2' } });
  });

  it('keeps what the operator gave', () => {
    const r = nodeAddresses({ remoteServer: 'http://10.0.0.1:7460', address: '203.0.113.5', httpHost: '0.0.0.0', routeSource: '10.0.0.2' });
    assert.deepEqual(r, { ok: true, value: { address: '203.0.113.5', httpHost: '0.0.0.0' } });
  });

  it('allows loopback when every server is on this host', () => {
    assert.deepEqual(nodeAddresses({ address: '127.0.0.1', routeSource: '127.0.0.1' }), { ok: true, value: { address: '127.0.0.1', httpHost: '127.0.0.1' } });
  });

  it('refuses a loopback address with a server on another host, naming the fix', () => {
    const r = nodeAddresses({ remoteServer: 'http://10.0.0.1:7460', address: '127.0.0.1', routeSource: '10.0.0.2' });
    assert.equal(r.ok, false);
    assert.match(!r.ok ? r.error : '', /--address 127\.0\.0\.1 is a loopback address, but the server http:\/\/10\.0\.0\.1:7460 is on another host.*leave the flag out to use 10\.0\.0\.2/);
  });

  it('refuses a loopback HTTP address with a server on another host', () => {
    const r = nodeAddresses({ remoteServer: 'http://10.0.0.1:7460', httpHost: '127.0.0.1', routeSource: '10.0.0.2' });
    assert.match(!r.ok ? r.error : '', /--http-addr 127\.0\.0\.1 is a loopback address.*logs, exec and stats/);
  });

  it('refuses loopback only when a server is really on another host', async () => {
    const remote = await resolveNodeAddresses({ servers: ['http://127.0.0.1:7460', 'http://10.255.255.1:7460'], address: '127.0.0.1', httpHost: '127.0.0.1' });
    assert.match(!remote.ok ? remote.error : '', /the server http:\/\/10\.255\.255\.1:7460 is on another host/);
    const local = await resolveNodeAddresses({ servers: ['http://localhost:7460', 'http://127.0.0.1:7461'], address: '127.0.0.1' });
    assert.deepEqual(local, { ok: true, value: { address: '127.0.0.1', httpHost: '127.0.0.1' } });
  });

  it('says which flags to give when no route reaches the server', async () => {
    const r = await resolveNodeAddresses({ servers: ['http://no-such-host.invalid:7460'] });
    assert.match(!r.ok ? r.error : '', /cannot find the address this host reaches the server http:\/\/no-such-host\.invalid:7460 from .*give --address and --http-addr/);
  });
});
