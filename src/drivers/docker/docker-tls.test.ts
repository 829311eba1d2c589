import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { requireDocker } from '../../testing/index.ts';
import { createCa, createCert, writePair } from '../../tls/index.ts';
import { DockerDriver } from './docker-driver.ts';
import { connectDocker, dockerTlsFromEnv } from './docker-host.ts';

/**
 * A Docker engine that serves the Engine API over mutual TLS, as `dockerd --tlsverify` does: an
 * HTTPS front that verifies client certificates and passes each request to the test engine's
 * unix socket. It stands in for a second dockerd, which would be costly to start beside the
 * shared one.
 */
async function tlsEngine(t: TestContext, socketPath: string): Promise<{ address: string; certDir: string }> {
  const certDir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-docker-tls-'));
  t.after(() => fs.rmSync(certDir, { recursive: true, force: true }));
  const ca = await createCa();
  writePair(certDir, 'engine-ca', ca);
  fs.renameSync(path.join(certDir, 'engine-ca.pem'), path.join(certDir, 'ca.pem'));
  const server = await createCert(ca, { role: 'server' });
  const client = await createCert(ca, { role: 'cli' });
  fs.writeFileSync(path.join(certDir, 'cert.pem'), client.cert);
  fs.writeFileSync(path.join(certDir, 'key.pem'), client.key, { mode: 0o600 });
  const front = https.createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    const upstream = http.request({ socketPath, path: req.url, method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', (err) => res.destroy(err));
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => front.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    front.closeAllConnections();
    front.close();
  });
  return { address: `tcp://127.0.0.1:${(front.address() as AddressInfo).port}`, certDir };
}

describe('docker driver over TLS', () => {
  it('reaches an engine that verifies client certificates with --docker-tls-* files, and runs a task there', async (t) => {
    const engine = requireDocker(t);
    if (!engine) return;
    if (!engine.host.startsWith('unix://')) return t.skip(`the TLS front needs the test engine on a unix socket, not ${engine.host}`);
    const { address, certDir } = await tlsEngine(t, engine.host.slice('unix://'.length));
    const files = { ca: path.join(certDir, 'ca.pem'), cert: path.join(certDir, 'cert.pem'), key: path.join(certDir, 'key.pem') };
    const driver = new DockerDriver({ host: address, tls: files });
    const direct = await connectDocker(engine.host).version();
    const { ID: engineId } = (await connectDocker(engine.host).info()) as { ID: string };
    const info = await driver.fingerprint();
    const { bridgeAddress: _bridge, ...seen } = info;
    assert.deepEqual(seen, { detected: true, healthy: true, version: direct.Version, engineId });
    const handle = await driver.start({
      allocId: randomUUID(), taskName: 'tls', nodeName: 'node-tls', config: { image: engine.image, command: '/bin/sh', args: ['-c', 'echo through-tls'] },
      env: {}, args: ['-c', 'echo through-tls'], resources: { cpu: 0.1, memoryMiB: 32 }, ports: [], taskDir: fs.mkdtempSync(path.join(os.tmpdir(), 'berth-task-')),
    });
    t.after(() => driver.destroy(handle).catch(() => undefined));
    assert.equal((await driver.wait(handle)).exitCode, 0);
    let out = '';
    for await (const c of driver.logs(handle)) out += c.data.toString();
    assert.equal(out, 'through-tls\n');
  });

  it('takes the files from DOCKER_TLS_VERIFY and DOCKER_CERT_PATH as the Docker CLI does, and is refused without them', async (t) => {
    const engine = requireDocker(t);
    if (!engine) return;
    if (!engine.host.startsWith('unix://')) return t.skip(`the TLS front needs the test engine on a unix socket, not ${engine.host}`);
    const { address, certDir } = await tlsEngine(t, engine.host.slice('unix://'.length));
    assert.equal(dockerTlsFromEnv({}), undefined);
    assert.equal(dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '0', DOCKER_CERT_PATH: certDir }), undefined);
    const fromEnv = dockerTlsFromEnv({ DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certDir });
    assert.deepEqual(fromEnv, { ca: path.join(certDir, 'ca.pem'), cert: path.join(certDir, 'cert.pem'), key: path.join(certDir, 'key.pem') });
    const saved = { verify: process.env.DOCKER_TLS_VERIFY, path: process.env.DOCKER_CERT_PATH };
    process.env.DOCKER_TLS_VERIFY = '1';
    process.env.DOCKER_CERT_PATH = certDir;
    try {
      assert.equal((await new DockerDriver({ host: address }).fingerprint()).healthy, true);
    } finally {
      if (saved.verify === undefined) delete process.env.DOCKER_TLS_VERIFY;
      else process.env.DOCKER_TLS_VERIFY = saved.verify;
      if (saved.path === undefined) delete process.env.DOCKER_CERT_PATH;
      else process.env.DOCKER_CERT_PATH = saved.path;
    }
    // Plain HTTP to a TLS engine, and TLS without a client certificate, are both refused.
    assert.equal((await new DockerDriver({ host: address }).fingerprint()).healthy, false);
    assert.throws(() => new DockerDriver({ host: address, tls: { ca: path.join(certDir, 'ca.pem'), cert: path.join(certDir, 'missing.pem'), key: path.join(certDir, 'key.pem') } }), /cannot read the client certificate .*missing.pem: no such file/);
  });
});
