import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkRequest, hostnameOf, isLoopback, type RequestPolicy } from './request-policy.ts';

const loopbackOnly: RequestPolicy = { hosts: [], anyInterface: false, origins: [], sameOrigin: true };

describe('request policy', () => {
  it('lets in requests without Origin at the loopback names, whatever the port', () => {
    for (const host of ['localhost:7460', '127.0.0.1:7460', '[::1]:7460', '127.0.0.1:8500', 'LOCALHOST', '127.0.0.2', 'localhost.:80']) {
      assert.deepEqual(checkRequest({ host }, loopbackOnly, 'http'), { ok: true }, host);
    }
    assert.deepEqual(checkRequest({}, loopbackOnly, 'http'), { ok: true }, 'no Host at all (HTTP/1.0)');
  });

  it('refuses a Host that is not a name the endpoint answers to, as a DNS-rebinding page sends', () => {
    for (const host of ['evil.example:7460', 'evil.example', '10.0.0.9:7460', '0.0.0.0:7460', 'localhost.evil.example', 'a b', '']) {
      const v = checkRequest({ host }, loopbackOnly, 'http');
      assert.equal(v.ok, false, host);
      assert.equal(!v.ok && v.header, 'host');
    }
  });

  it('accepts the bind, advertised and configured names, and any interface address when bound to every interface', () => {
    const named: RequestPolicy = { ...loopbackOnly, hosts: ['10.0.0.1', 'Berth.Example.com'] };
    assert.equal(checkRequest({ host: '10.0.0.1:7460' }, named, 'http').ok, true);
    assert.equal(checkRequest({ host: 'berth.example.com' }, named, 'http').ok, true);
    assert.equal(checkRequest({ host: '10.0.0.2:7460' }, named, 'http').ok, false);
    const any: RequestPolicy = { ...loopbackOnly, anyInterface: true, localAddresses: () => ['192.168.5.4', 'fe80::1'] };
    assert.equal(checkRequest({ host: '192.168.5.4:7460' }, any, 'http').ok, true);
    assert.equal(checkRequest({ host: '[fe80::1]:7460' }, any, 'http').ok, true);
    assert.equal(checkRequest({ host: 'evil.example:7460' }, any, 'http').ok, false);
  });

  it("lets in the endpoint's own origin and configured ones, and refuses others and the opaque origin", () => {
    const p: RequestPolicy = { ...loopbackOnly, origins: ['https://ui.example.com'] };
    assert.equal(checkRequest({ host: '127.0.0.1:7460', origin: 'http://127.0.0.1:7460' }, p, 'http').ok, true, 'same origin');
    assert.equal(checkRequest({ host: 'localhost:7460', origin: 'http://localhost:7460' }, p, 'http').ok, true, 'same origin by name');
    assert.equal(checkRequest({ host: '127.0.0.1:7460', origin: 'https://ui.example.com' }, p, 'http').ok, true, 'configured');
    assert.equal(checkRequest({ host: '127.0.0.1:7460', origin: 'https://ui.example.com:443' }, p, 'http').ok, true, 'default port spelled out');
    for (const origin of ['http://127.0.0.1:8080', 'http://localhost:7460.evil.example', 'https://127.0.0.1:7460', 'http://ui.example.com', 'null', 'file://', 'chrome-extension://abc', 'garbage']) {
      const v = checkRequest({ host: '127.0.0.1:7460', origin }, p, 'http');
      assert.equal(v.ok, false, origin);
      assert.equal(!v.ok && v.header, 'origin', origin);
    }
  });

  it('refuses a rebound page even though its origin equals its Host', () => {
    const v = checkRequest({ host: 'evil.example:7460', origin: 'http://evil.example:7460' }, loopbackOnly, 'http');
    assert.equal(!v.ok && v.header, 'host');
  });

  it('refuses every origin when same-origin pages are not allowed (the agent)', () => {
    const agent: RequestPolicy = { ...loopbackOnly, sameOrigin: false };
    assert.equal(checkRequest({ host: '127.0.0.1:4646', origin: 'http://127.0.0.1:4646' }, agent, 'http').ok, false);
    assert.equal(checkRequest({ host: '127.0.0.1:4646' }, agent, 'http').ok, true);
  });

  it('reads host names from Host values', () => {
    assert.equal(hostnameOf('[::1]:7460'), '::1');
    assert.equal(hostnameOf('Example.COM.:80'), 'example.com');
    assert.equal(hostnameOf('a@b'), undefined);
    assert.equal(isLoopback('127.8.9.10'), true);
    assert.equal(isLoopback('128.0.0.1'), false);
  });
});
