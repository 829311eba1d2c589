import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import https from 'node:https';
import { X509Certificate } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ClientTls, ServerTls, createCa, createCert, writePair, type PemPair } from './index.ts';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tls-'));
}

/** An HTTPS server on loopback answering with its own name, with ServerTls attached. */
async function listen(serverTls: ServerTls): Promise<{ url: string; server: https.Server }> {
  const server = https.createServer(serverTls.options, (req, res) => res.end(`ok ${req.socket.remoteAddress}`));
  serverTls.attach(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

function files(dir: string, base: string, pair: PemPair): { cert: string; key: string } {
  return writePair(dir, base, pair);
}

test('a server certificate carries its role name, localhost, 127.0.0.1 and the extra names, signed by the CA', async () => {
  const ca = await createCa();
  const pair = await createCert(ca, { role: 'server', region: 'eu', dnsNames: ['berth.example.com'], ipAddresses: ['10.0.0.1'] });
  const cert = new X509Certificate(pair.cert);
  assert.ok(cert.verify(new X509Certificate(ca.cert).publicKey));
  assert.equal(cert.subjectAltName, 'DNS:server.eu.berth, DNS:localhost, DNS:berth.example.com, IP Address:127.0.0.1, IP Address:10.0.0.1');
  assert.equal(new X509Certificate(ca.cert).ca, true);
  assert.equal(cert.ca, false);
  const cli = new X509Certificate((await createCert(ca, { role: 'cli' })).cert);
  assert.equal(cli.subjectAltName, 'DNS:cli.global.berth');
  await assert.rejects(createCert(ca, { role: 'client', ipAddresses: ['not-an-ip'] }), /"not-an-ip" is not an IP address/);
});

test('keys are written mode 600 and an existing file is never replaced', async () => {
  const dir = tmpDir();
  const ca = await createCa();
  const written = writePair(dir, 'berth-agent-ca', ca);
  assert.equal(fs.statSync(written.key).mode & 0o777, 0o600);
  assert.equal(fs.statSync(written.cert).mode & 0o777, 0o644);
  assert.throws(() => writePair(dir, 'berth-agent-ca', ca), /berth-agent-ca.pem already exists/);
  assert.equal(fs.readFileSync(written.key, 'utf8'), ca.key);
});

test('a caller trusting the CA reaches a server by IP and checks its role name; another CA or role is refused', async () => {
  const dir = tmpDir();
  const ca = await createCa();
  const caFile = files(dir, 'ca', ca).cert;
  const server = await listen(ServerTls.load(files(dir, 'server', await createCert(ca, { role: 'server' }))));
  try {
    const good = ClientTls.load({ ca: caFile });
    assert.match(await (await good.fetch(server.url)).text(), /^ok/);
    await good.close();

    const other = await createCa();
    const wrongCa = ClientTls.load({ ca: files(dir, 'other', other).cert });
    const err = await wrongCa.fetch(server.url).catch((e: Error & { cause?: { code?: string } }) => e);
    assert.equal((err as { cause?: { code?: string } }).cause?.code, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE');

    const agentOnly = ClientTls.load({ ca: caFile }, { peerNames: ['client.global.berth'] });
    const named = await agentOnly.fetch(server.url).catch((e: Error & { cause?: Error }) => e);
    assert.match(String((named as { cause?: Error }).cause?.message), /is not for client.global.berth \(it names DNS:server.global.berth/);
  } finally {
    server.server.closeAllConnections();
    server.server.close();
  }
});

test('with verifyIncoming a caller without a certificate of the CA is refused, one with it is served', async () => {
  const dir = tmpDir();
  const ca = await createCa();
  const caFile = files(dir, 'ca', ca).cert;
  const serverFiles = files(dir, 'server', await createCert(ca, { role: 'server' }));
  assert.throws(() => ServerTls.load({ ...serverFiles, verifyIncoming: true }), /needs the CA/);
  const server = await listen(ServerTls.load({ ...serverFiles, ca: caFile, verifyIncoming: true }));
  try {
    const anonymous = ClientTls.load({ ca: caFile });
    await assert.rejects(anonymous.fetch(server.url));
    const foreign = files(dir, 'foreign', await createCert(await createCa(), { role: 'cli' }));
    await assert.rejects(ClientTls.load({ ca: caFile, ...foreign }).fetch(server.url));
    const cli = files(dir, 'cli', await createCert(ca, { role: 'cli' }));
    assert.equal((await ClientTls.load({ ca: caFile, ...cli }).fetch(server.url)).status, 200);
  } finally {
    server.server.closeAllConnections();
    server.server.close();
  }
});

test('with callerNames only callers whose certificate carries one of them are served', async () => {
  const dir = tmpDir();
  const ca = await createCa();
  const caFile = files(dir, 'ca', ca).cert;
  const endpoint = files(dir, 'agent', await createCert(ca, { role: 'client' }));
  const server = await listen(ServerTls.load({ ...endpoint, ca: caFile, verifyIncoming: true, callerNames: ['server.global.berth'] }));
  try {
    const asServer = files(dir, 'server', await createCert(ca, { role: 'server' }));
    const viaServer = ClientTls.load({ ca: caFile, ...asServer }, { peerNames: ['client.global.berth'] });
    assert.equal((await viaServer.fetch(server.url)).status, 200);
    const asCli = files(dir, 'cli', await createCert(ca, { role: 'cli' }));
    await assert.rejects(ClientTls.load({ ca: caFile, ...asCli }, { peerNames: ['client.global.berth'] }).fetch(server.url));
  } finally {
    server.server.closeAllConnections();
    server.server.close();
  }
});

test('a key that does not match its certificate is named at load', async () => {
  const dir = tmpDir();
  const ca = await createCa();
  const a = files(dir, 'a', await createCert(ca, { role: 'server' }));
  const b = files(dir, 'b', await createCert(ca, { role: 'server' }));
  assert.throws(() => ServerTls.load({ cert: a.cert, key: b.key }), new RegExp(`the key ${b.key} does not belong to the certificate ${a.cert}`));
  assert.throws(() => ServerTls.load({ cert: path.join(dir, 'missing.pem'), key: b.key }), /cannot read the certificate .*missing.pem: no such file/);
  assert.throws(() => ClientTls.load({ cert: a.cert }), /needs its key/);
});

test('reload gives new handshakes the new certificate while an open connection goes on', async () => {
  const dir = tmpDir();
  const ca = await createCa();
  const caFile = files(dir, 'ca', ca).cert;
  const first = await createCert(ca, { role: 'server' });
  const certFiles = files(dir, 'server', first);
  const serverTls = ServerTls.load(certFiles);
  const server = await listen(serverTls);
  const serial = (socket: unknown): string => (socket as TLSSocket).getPeerCertificate().serialNumber;
  try {
    const agent = new https.Agent({ keepAlive: true, ca: fs.readFileSync(caFile), servername: 'localhost' });
    const get = (a: https.Agent): Promise<{ serial: string; socket: unknown }> =>
      new Promise((resolve, reject) => {
        const req = https.get(`${server.url}/`, { agent: a, ca: fs.readFileSync(caFile), servername: 'localhost' }, (res) => {
          const socket = res.socket;
          const seen = serial(socket);
          res.resume();
          res.on('end', () => resolve({ serial: seen, socket }));
        });
        req.on('error', reject);
      });
    const before = await get(agent);
    const second = await createCert(ca, { role: 'server' });
    fs.writeFileSync(certFiles.cert, second.cert);
    fs.writeFileSync(certFiles.key, second.key);
    serverTls.reload();
    const again = await get(agent);
    assert.equal(again.socket, before.socket, 'the keep-alive connection was kept');
    assert.equal(again.serial, before.serial);
    const fresh = await get(new https.Agent({ keepAlive: false }));
    assert.equal(fresh.serial, new X509Certificate(second.cert).serialNumber);
    assert.notEqual(fresh.serial, before.serial);
    agent.destroy();
    fs.writeFileSync(certFiles.key, 'garbage');
    assert.throws(() => serverTls.reload(), /is not PEM/);
    const still = await get(new https.Agent({ keepAlive: false }));
    assert.equal(still.serial, fresh.serial, 'a bad file keeps the old certificate');
  } finally {
    server.server.closeAllConnections();
    server.server.close();
  }
});
