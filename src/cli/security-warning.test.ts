import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { securityWarning } from './security-warning.ts';

describe('security warning', () => {
  it('says nothing on a loopback address, whatever ACLs and TLS', () => {
    for (const bindAddress of ['127.0.0.1', '127.0.0.2', '::1', 'localhost']) {
      assert.equal(securityWarning({ bindAddress, aclEnabled: false, tlsEnabled: false }), undefined, bindAddress);
    }
  });

  it('warns on every other address without ACLs or TLS, naming the risks and the flags', () => {
    for (const bindAddress of ['0.0.0.0', '::', '10.0.0.1', 'berth.example.com']) {
      const w = securityWarning({ bindAddress, aclEnabled: false, tlsEnabled: false });
      assert.ok(w, bindAddress);
      assert.match(w, /^WARNING: the berth API listens on .* without ACLs and without TLS\./);
      assert.match(w, /run containers as root on every node/);
      assert.match(w, /--acl/);
      assert.match(w, /--tls-cert <file> --tls-key <file>/);
      assert.match(w, /--http-addr 127\.0\.0\.1:7460/);
    }
    assert.match(securityWarning({ bindAddress: '0.0.0.0', aclEnabled: false, tlsEnabled: false })!, /every interface/);
    assert.match(securityWarning({ bindAddress: '::', aclEnabled: false, tlsEnabled: false })!, /listens on \[::\]/);
  });

  it('names only what is missing, and nothing once both are on', () => {
    const noTls = securityWarning({ bindAddress: '10.0.0.1', aclEnabled: true, tlsEnabled: false })!;
    assert.match(noTls, /without TLS\./);
    assert.doesNotMatch(noTls, /--acl/);
    const noAcl = securityWarning({ bindAddress: '10.0.0.1', aclEnabled: false, tlsEnabled: true })!;
    assert.match(noAcl, /without ACLs\./);
    assert.doesNotMatch(noAcl, /--tls-cert/);
    assert.equal(securityWarning({ bindAddress: '10.0.0.1', aclEnabled: true, tlsEnabled: true }), undefined);
  });
});
