/**
 * TLS end to end, with real processes: certificates made by `berth tls`, a `berth server` with
 * --verify-incoming, agents with and without certificates, the CLI over HTTPS, a CA it does not
 * trust, SIGHUP reload under an open blocking query, the consul npm client, and etcd over TLS.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import Consul from 'consul';
import { ClientTls } from '../../src/tls/index.ts';
import { requireEtcd } from '../../src/testing/index.ts';
import { berth, eventually, freePorts } from '../harness/berth.ts';
import { launch, type BerthProcess } from '../harness/cluster.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tls-e2e-'));
const certs = path.join(dir, 'certs');
const other = path.join(dir, 'other');
const f = (name: string): string => path.join(certs, name);
const ca = f('berth-agent-ca.pem');
/** The CLI's TLS settings, as a user exports them. */
const cliEnv = { BERTH_CACERT: ca, BERTH_CLIENT_CERT: f('global-cli-berth.pem'), BERTH_CLIENT_KEY: f('global-cli-berth-key.pem') };
const serverTls = ['--tls-cert', f('global-server-berth.pem'), '--tls-key', f('global-server-berth-key.pem'), '--tls-ca', ca];

async function ok(args: string[], options: Parameters<typeof berth>[1] = {}): Promise<string> {
  const r = await berth(args, options);
  assert.equal(r.code, 0, `berth ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** A TLS `berth server` with --verify-incoming; resolves once it listens. */
async function startTlsServer(name: string, extra: string[] = []): Promise<BerthProcess & { addr: string }> {
  const [http, dns] = await freePorts(2);
  const proc = launch(['server', '--data-dir', path.join(dir, name), '--http-addr', `127.0.0.1:${http}`, '--dns-addr', `127.0.0.1:${dns}`, ...serverTls, '--verify-incoming', ...extra]);
  await eventually(`server ${name} listening`, async () => {
    if (proc.child.exitCode !== null) throw new Error(`berth server exited with ${proc.child.exitCode}:\n${proc.logs()}`);
    return proc.logs().includes('server listening');
  }, 30_000);
  return { ...proc, addr: `https://127.0.0.1:${http}` };
}

/** The serial number of the certificate a fresh handshake with `addr` gets. */
function servedSerial(addr: string): Promise<string> {
  const url = new URL(addr);
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: url.hostname, port: Number(url.port), ca: fs.readFileSync(ca), cert: fs.readFileSync(f('global-cli-berth.pem')), key: fs.readFileSync(f('global-cli-berth-key.pem')), servername: 'server.global.berth' }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.end();
    });
    socket.on('error', reject);
  });
}

describe('TLS', () => {
  const procs: BerthProcess[] = [];
  after(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  before(async () => {
    // As the README says: a CA, then one certificate per role, each in the CA's directory.
    await ok(['tls', 'ca', 'create', '--dir', certs]);
    for (const role of ['--server', '--client', '--cli']) await ok(['tls', 'cert', 'create', role, '--dir', certs, '--ca', ca, '--key', f('berth-agent-ca-key.pem')]);
    await ok(['tls', 'ca', 'create', '--dir', other]);
    await ok(['tls', 'cert', 'create', '--cli', '--dir', other, '--ca', path.join(other, 'berth-agent-ca.pem'), '--key', path.join(other, 'berth-agent-ca-key.pem')]);
    assert.equal(fs.statSync(f('global-server-berth-key.pem')).mode & 0o777, 0o600);
  });

  it('berth tls cert create says what is missing and never replaces a file', async () => {
    const none = await berth(['tls', 'cert', 'create', '--dir', certs]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /give exactly one of --server, --client, --cli/);
    const two = await berth(['tls', 'cert', 'create', '--server', '--cli', '--dir', certs]);
    assert.equal(two.code, 2);
    const noCa = await berth(['tls', 'cert', 'create', '--server', '--dir', path.join(dir, 'elsewhere'), '--ca', path.join(dir, 'no-ca.pem')]);
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /cannot read the CA certificate .*no-ca.pem: no such file \(create a CA with `berth tls ca create`, or pass --ca and --key\)/);
    const before = fs.readFileSync(f('global-server-berth-key.pem'), 'utf8');
    const again = await berth(['tls', 'cert', 'create', '--server', '--dir', certs, '--ca', ca, '--key', f('berth-agent-ca-key.pem')]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /global-server-berth.pem already exists/);
    assert.equal(fs.readFileSync(f('global-server-berth-key.pem'), 'utf8'), before);
    const badIp = await berth(['tls', 'cert', 'create', '--server', '--additional-ipaddress', '10.0.0.300', '--dir', certs]);
    assert.equal(badIp.code, 2);
    assert.match(badIp.stderr, /expected an IP address, got "10.0.0.300"/);
  });

  it('runs a job through an agent over mutual TLS, and the CLI reads its logs and execs in it over HTTPS', async () => {
    const server = await startTlsServer('s1');
    procs.push(server);
    const agent = launch(['agent', '--server', server.addr, '--data-dir', path.join(dir, 'a1'), '--node-name', 'tls-node', '--driver', 'process', '--tls-cert', f('global-client-berth.pem'), '--tls-key', f('global-client-berth-key.pem'), '--tls-ca', ca, '--verify-incoming']);
    procs.push(agent);
    await eventually('the agent to register', async () => agent.logs().includes('agent started'), 30_000);
    const env = { ...cliEnv, BERTH_ADDR: server.addr };
    assert.match(await ok(['node', 'status'], { env }), /tls-node .* ready/);
    const job = path.join(dir, 'tick.yaml');
    fs.writeFileSync(job, 'id: tick\ntype: service\ngroups:\n  - name: g\n    tasks:\n      - name: t\n        driver: process\n        config:\n          command: /bin/sh\n          args: ["-c", "echo hello-over-tls; sleep 600"]\n');
    await ok(['job', 'run', job], { env });
    const status = JSON.parse(await ok(['job', 'status', 'tick', '--json'], { env })) as { allocations: { id: string }[] };
    const alloc = status.allocations[0].id;
    // Logs and exec go CLI -> server -> agent, each hop verified both ways.
    await eventually('the logs through the server', async () => (await berth(['alloc', 'logs', alloc], { env })).stdout.includes('hello-over-tls'));
    assert.equal(await ok(['alloc', 'exec', alloc, '--', '/bin/echo', 'exec-over-tls'], { env }), 'exec-over-tls\n');
    // The agent reloads too on SIGHUP, and the server still reaches it and it the server.
    agent.child.kill('SIGHUP');
    await eventually('the agent to reload', async () => agent.logs().includes('TLS certificates reloaded'));
    assert.equal(await ok(['alloc', 'exec', alloc, '--', '/bin/echo', 'after-reload'], { env }), 'after-reload\n');
    // The agent's own endpoint takes only servers: a CLI certificate of the same CA cannot go round them.
    const [node] = JSON.parse(await ok(['node', 'status', '--json'], { env })) as { httpAddr: string }[];
    assert.match(node.httpAddr, /^https:/);
    const direct = ClientTls.load({ ca, cert: f('global-cli-berth.pem'), key: f('global-cli-berth-key.pem') }, { peerNames: ['client.global.berth'] });
    await assert.rejects(direct.fetch(`${node.httpAddr}/v1/client/allocations/${alloc}/stats`));
    await direct.close();
    await ok(['job', 'stop', 'tick'], { env });
  });

  it('refuses an agent without a client certificate, and one whose certificate another CA signed', async () => {
    const server = await startTlsServer('s2');
    procs.push(server);
    const bare = launch(['agent', '--server', server.addr, '--data-dir', path.join(dir, 'a2'), '--node-name', 'no-cert', '--driver', 'process'], { BERTH_CACERT: ca });
    const foreign = launch(['agent', '--server', server.addr, '--data-dir', path.join(dir, 'a3'), '--node-name', 'foreign', '--driver', 'process'], {
      BERTH_CACERT: ca,
      BERTH_CLIENT_CERT: path.join(other, 'global-cli-berth.pem'),
      BERTH_CLIENT_KEY: path.join(other, 'global-cli-berth-key.pem'),
    });
    procs.push(bare, foreign);
    await eventually('the refused agent to say why', async () => bare.logs().includes('--verify-incoming, set BERTH_CLIENT_CERT'), 20_000);
    await eventually('the foreign agent to be refused', async () => foreign.logs().includes('closed the connection without answering'), 20_000);
    await sleep(1000);
    assert.ok(!bare.logs().includes('agent started') && !foreign.logs().includes('agent started'));
    const nodes = await ok(['node', 'status', '--json'], { env: { ...cliEnv, BERTH_ADDR: server.addr } });
    assert.deepEqual(JSON.parse(nodes), [], 'no node registered');
  });

  it('tells a CLI that trusts another CA, or has no certificate, what is wrong, without a stack trace', async () => {
    const server = await startTlsServer('s3');
    procs.push(server);
    const wrongCa = await berth(['node', 'status'], { env: { ...cliEnv, BERTH_ADDR: server.addr, BERTH_CACERT: path.join(other, 'berth-agent-ca.pem') } });
    assert.equal(wrongCa.code, 1);
    assert.match(wrongCa.stderr, /Cannot reach the berth server at https:\/\/127\.0\.0\.1:\d+: its certificate is signed by a CA this client does not trust .*set BERTH_CACERT/);
    const noCa = await berth(['node', 'status'], { env: { BERTH_ADDR: server.addr } });
    assert.equal(noCa.code, 1);
    assert.match(noCa.stderr, /set BERTH_CACERT/);
    const noCert = await berth(['node', 'status'], { env: { BERTH_ADDR: server.addr, BERTH_CACERT: ca } });
    assert.equal(noCert.code, 1);
    assert.match(noCert.stderr, /set BERTH_CLIENT_CERT and BERTH_CLIENT_KEY/);
    const plain = await berth(['node', 'status'], { env: { ...cliEnv, BERTH_ADDR: server.addr.replace('https:', 'http:') } });
    assert.match(plain.stderr, /use an https:\/\/ address/);
    const missing = await berth(['node', 'status'], { env: { ...cliEnv, BERTH_ADDR: server.addr, BERTH_CACERT: path.join(dir, 'nope.pem') } });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /cannot read the CA certificate .*nope.pem: no such file/);
    for (const r of [wrongCa, noCa, noCert, plain, missing]) assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('reloads its certificate on SIGHUP: new handshakes get the new one, an open blocking query goes on', async () => {
    const server = await startTlsServer('s4');
    procs.push(server);
    const before = await servedSerial(server.addr);
    const client = ClientTls.load({ ca, cert: f('global-cli-berth.pem'), key: f('global-cli-berth-key.pem') });
    await client.fetch(`${server.addr}/v1/kv/reload`, { method: 'PUT', body: 'one' });
    const first = await client.fetch(`${server.addr}/v1/kv/reload`);
    const index = Number(first.headers.get('x-consul-index'));
    await first.text();
    // A blocking query on the same keep-alive connection, open across the reload.
    const blocked = client.fetch(`${server.addr}/v1/kv/reload?index=${index}&wait=30s`);
    await sleep(300);
    const fresh = path.join(dir, 'fresh');
    await ok(['tls', 'cert', 'create', '--server', '--dir', fresh, '--ca', ca, '--key', f('berth-agent-ca-key.pem')]);
    fs.copyFileSync(path.join(fresh, 'global-server-berth.pem'), f('global-server-berth.pem'));
    fs.copyFileSync(path.join(fresh, 'global-server-berth-key.pem'), f('global-server-berth-key.pem'));
    server.child.kill('SIGHUP');
    await eventually('the reload to be logged', async () => server.logs().includes('TLS certificates reloaded'));
    const afterReload = await servedSerial(server.addr);
    assert.notEqual(afterReload, before, 'a new handshake sees the new certificate');
    assert.equal(afterReload, new (await import('node:crypto')).X509Certificate(fs.readFileSync(f('global-server-berth.pem'))).serialNumber);
    // The blocking query answers once the key changes: its connection was not dropped.
    await ok(['kv', 'put', 'reload', 'two'], { env: { ...cliEnv, BERTH_ADDR: server.addr } });
    const res = await blocked;
    assert.equal(res.status, 200);
    const [entry] = (await res.json()) as { Value: string }[];
    assert.equal(Buffer.from(entry.Value, 'base64').toString(), 'two');
    assert.equal(server.child.exitCode, null, 'the server is still running');
    await client.close();
  });

  it('serves the consul npm client over HTTPS with the CA and a client certificate given through its agent', async () => {
    const server = await startTlsServer('s5');
    procs.push(server);
    const url = new URL(server.addr);
    const agent = new https.Agent({ ca: fs.readFileSync(ca), cert: fs.readFileSync(f('global-cli-berth.pem')), key: fs.readFileSync(f('global-cli-berth-key.pem')) });
    const consul = new Consul({ host: url.hostname, port: Number(url.port), secure: true, agent });
    await consul.kv.set('greeting', 'hello over tls');
    const got = (await consul.kv.get('greeting')) as { Value: string };
    assert.equal(got.Value, 'hello over tls');
    const untrusting = new Consul({ host: url.hostname, port: Number(url.port), secure: true });
    await assert.rejects(untrusting.kv.get('greeting'), /self-signed certificate in certificate chain/);
    agent.destroy();
  });

  it('with ACLs on too, the consul npm client needs its token over HTTPS as over HTTP', async () => {
    const server = await startTlsServer('s6', ['--acl']);
    procs.push(server);
    const env = { ...cliEnv, BERTH_ADDR: server.addr };
    const boot = JSON.parse(await ok(['acl', 'bootstrap', '--json'], { env })) as { secretId: string };
    const url = new URL(server.addr);
    const agent = new https.Agent({ ca: fs.readFileSync(ca), cert: fs.readFileSync(f('global-cli-berth.pem')), key: fs.readFileSync(f('global-cli-berth-key.pem')) });
    const withToken = new Consul({ host: url.hostname, port: Number(url.port), secure: true, agent, defaults: { token: boot.secretId } });
    await withToken.kv.set('greeting', 'hello over tls with a token');
    assert.equal(((await withToken.kv.get('greeting')) as { Value: string }).Value, 'hello over tls with a token');
    const noToken = new Consul({ host: url.hostname, port: Number(url.port), secure: true, agent });
    await assert.rejects(noToken.kv.get('greeting'), /unauthorized/);
    // The CLI over HTTPS with the token.
    assert.match(await ok(['kv', 'get', 'greeting'], { env: { ...env, BERTH_TOKEN: boot.secretId } }), /hello over tls with a token/);
    agent.destroy();
  });

  it('keeps its state in an etcd that serves TLS and verifies client certificates', async (t) => {
    if (!requireEtcd(t)) return;
    const [client, peer] = await freePorts(2);
    const etcdDir = path.join(dir, 'etcd');
    const etcdUrl = `https://127.0.0.1:${client}`;
    const etcd = spawn('etcd', [
      '--name', 'm0', '--data-dir', etcdDir,
      '--listen-client-urls', etcdUrl, '--advertise-client-urls', etcdUrl,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `m0=http://127.0.0.1:${peer}`,
      // The server certificate names 127.0.0.1; etcd requires client certificates of the CA.
      '--cert-file', f('global-server-berth.pem'), '--key-file', f('global-server-berth-key.pem'), '--trusted-ca-file', ca, '--client-cert-auth',
    ], { stdio: 'ignore' });
    t.after(() => void etcd.kill('SIGTERM'));
    const probe = ClientTls.load({ ca, cert: f('global-cli-berth.pem'), key: f('global-cli-berth-key.pem') }, { peerNames: ['127.0.0.1'] });
    await eventually('etcd to be healthy', async () => (await probe.fetch(`${etcdUrl}/health`)).ok, 20_000);
    await probe.close();
    const etcdFlags = ['--etcd', etcdUrl, '--etcd-cacert', ca];
    // Without a client certificate etcd refuses the server, which says so and exits.
    const refused = launch(['server', '--data-dir', path.join(dir, 'e0'), '--http-addr', '127.0.0.1:0', '--dns-addr', '127.0.0.1:0', ...etcdFlags]);
    await new Promise((resolve) => refused.child.once('exit', resolve));
    assert.notEqual(refused.child.exitCode, 0);
    assert.match(refused.logs(), /Cannot start the server: Cannot open etcd state at https:/);
    const server = await startTlsServer('e1', [...etcdFlags, '--etcd-cert', f('global-cli-berth.pem'), '--etcd-key', f('global-cli-berth-key.pem')]);
    procs.push(server);
    const env = { ...cliEnv, BERTH_ADDR: server.addr };
    await ok(['kv', 'put', 'stored/in', 'etcd'], { env });
    assert.equal(await ok(['kv', 'get', 'stored/in'], { env }), 'etcd\n');
    // It is etcd that holds it: read it there directly, over TLS.
    const direct = ClientTls.load({ ca, cert: f('global-cli-berth.pem'), key: f('global-cli-berth-key.pem') }, { peerNames: ['127.0.0.1'] });
    const range = await direct.fetch(`${etcdUrl}/v3/kv/range`, { method: 'POST', body: JSON.stringify({ key: Buffer.from('\0').toString('base64'), range_end: Buffer.from('\0').toString('base64'), count_only: true }) });
    assert.ok(Number(((await range.json()) as { count?: string }).count) > 0, 'etcd holds berth\'s keys');
    await direct.close();
    // A second server on the same etcd follows; what it must forward goes to the leader over
    // mutual TLS, checked as server.global.berth (a txn is always forwarded).
    const follower = await startTlsServer('e2', [...etcdFlags, '--etcd-cert', f('global-cli-berth.pem'), '--etcd-key', f('global-cli-berth-key.pem')]);
    procs.push(follower);
    const members = JSON.parse(await ok(['server', 'members', '--json'], { env: { ...env, BERTH_ADDR: follower.addr } })) as { url: string; leader: boolean }[];
    assert.deepEqual(members.map((m) => [m.url, m.leader]).sort(), [[server.addr, true], [follower.addr, false]].sort());
    const cli = ClientTls.load({ ca, cert: f('global-cli-berth.pem'), key: f('global-cli-berth-key.pem') });
    const txn = await cli.fetch(`${follower.addr}/v1/txn`, { method: 'PUT', body: JSON.stringify([{ KV: { Verb: 'set', Key: 'via/follower', Value: Buffer.from('forwarded').toString('base64') } }]) });
    assert.equal(txn.status, 200, await txn.text());
    assert.equal(await ok(['kv', 'get', 'via/follower'], { env }), 'forwarded\n');
    await cli.close();
    await follower.stop();
    await server.stop();
  });
});
