/**
 * ACLs on a real `berth dev --acl`, through the built CLI, the consul npm client and the exec
 * WebSocket: bootstrap once, policies and tokens, 401 and 403 that say what is missing, the
 * anonymous token, a deleted token stopping at once, an agent endpoint that only servers may call,
 * and an agent that takes another node's id refused.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import Consul from 'consul';
import WebSocket from 'ws';
import { berth, eventually, startDev, type DevProcess } from '../harness/berth.ts';

const root = path.resolve(import.meta.dirname, '../..');

const SLEEPER = `id: sleeper
type: service
groups:
  - name: main
    tasks:
      - name: sleep
        driver: process
        config:
          command: /bin/sh
          args: ["-c", "echo started; exec sleep 600"]
        resources:
          cpu: 50m
          memory: 32Mi
`;

/** The status an exec WebSocket upgrade is answered with, and the error message of a refusal. */
function execUpgrade(url: string, token?: string): Promise<{ status: number; message: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    ws.on('open', () => {
      ws.close();
      resolve({ status: 101, message: '' });
    });
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, message: (JSON.parse(body) as { error: { message: string } }).error.message }));
    });
    ws.on('error', reject);
  });
}

describe('ACLs on a real berth dev --acl', () => {
  let dev: DevProcess;
  let addr: string;
  let rootToken: string;
  let reader: string;
  let deployer: string;
  let dir: string;

  before(async () => {
    dev = await startDev({ driver: 'process', args: ['--acl'] });
    addr = dev.addr;
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-acl-e2e-'));
  });
  after(async () => {
    await dev?.cleanup();
    if (dir) await fs.rm(dir, { recursive: true, force: true });
  });

  it('refuses everything without a token, and says how to give one', async () => {
    const res = await berth(['job', 'status'], { addr });
    assert.equal(res.code, 1);
    assert.match(res.stderr, /Permission denied: jobs: read needs a token \(give one with --token, BERTH_TOKEN/);
  });

  it('bootstraps once, then names the reset index and the file to write it in', async () => {
    const first = await berth(['acl', 'bootstrap', '--json'], { addr });
    assert.equal(first.code, 0, first.stderr);
    const token = JSON.parse(first.stdout) as { secretId: string; type: string };
    assert.equal(token.type, 'management');
    rootToken = token.secretId;
    const again = await berth(['acl', 'bootstrap'], { addr });
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`ACL bootstrap already done \\(reset index: \\d+\\): to bootstrap again, write \\d+ into ${dev.dataDir}/acl-bootstrap-reset`));
  });

  it('policies and tokens from the CLI: a weak token gets 403 naming the capability, a strong one works', async () => {
    await fs.writeFile(path.join(dir, 'reader.yaml'), 'description: reads jobs\njobs:\n  "*": [read]\n');
    await fs.writeFile(path.join(dir, 'deployer.json'), JSON.stringify({ jobs: { 'sleep*': ['write'] }, kv: { 'app/': ['write'] } }));
    await fs.writeFile(path.join(dir, 'sleeper.yaml'), SLEEPER);
    for (const name of ['reader', 'deployer']) {
      const file = path.join(dir, name === 'reader' ? 'reader.yaml' : 'deployer.json');
      const applied = await berth(['acl', 'policy', 'apply', name, file, '--token', rootToken], { addr });
      assert.equal(applied.code, 0, applied.stderr);
    }
    const bad = await berth(['acl', 'policy', 'apply', 'bad', path.join(dir, 'sleeper.yaml'), '--token', rootToken], { addr });
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /unknown scope; one of jobs, nodes/);
    const mint = async (policy: string): Promise<string> => {
      const r = await berth(['acl', 'token', 'create', '--policy', policy, '--description', policy, '--ttl', '1h', '--json'], { addr, env: { BERTH_TOKEN: rootToken } });
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { secretId: string }).secretId;
    };
    reader = await mint('reader');
    deployer = await mint('deployer');

    const refused = await berth(['job', 'run', path.join(dir, 'sleeper.yaml'), '--detach'], { addr, env: { BERTH_TOKEN: reader } });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /lacks jobs: write/);
    const run = await berth(['job', 'run', path.join(dir, 'sleeper.yaml')], { addr, env: { BERTH_TOKEN: deployer }, timeoutMs: 60_000 });
    assert.equal(run.code, 0, run.stderr);
    const status = await berth(['job', 'status', 'sleeper', '--json'], { addr, env: { BERTH_TOKEN: reader } });
    assert.equal(status.code, 0, status.stderr);
    const self = await berth(['acl', 'token', 'self', '--json'], { addr, env: { BERTH_TOKEN: reader } });
    assert.deepEqual((JSON.parse(self.stdout) as { policies: string[] }).policies, ['reader']);
    // Lists show accessor ids, never secrets.
    const list = await berth(['acl', 'token', 'list', '--json'], { addr, env: { BERTH_TOKEN: rootToken } });
    assert.ok(!list.stdout.includes(reader) && !list.stdout.includes(rootToken) && !list.stdout.includes('secretHash'));
  });

  it('the consul npm client works with a token, and is refused without one', async () => {
    const port = Number(new URL(addr).port);
    const withToken = new Consul({ host: '127.0.0.1', port, defaults: { token: deployer } });
    await withToken.kv.set('app/db', 'postgres://db');
    assert.equal((await withToken.kv.get('app/db'))?.Value, 'postgres://db');
    await assert.rejects(withToken.kv.set('other/key', 'x'), /forbidden/);
    const anonymous = new Consul({ host: '127.0.0.1', port });
    await assert.rejects(anonymous.kv.get('app/db'), /unauthorized/);
  });

  it('the exec WebSocket needs alloc-exec on the job: 401 without a token, 403 with a reader, a session with the deployer', async () => {
    const allocs = await eventually('a running allocation', async () => {
      const r = await fetch(`${addr}/v1/jobs/sleeper/allocations`, { headers: { authorization: `Bearer ${rootToken}` } });
      const list = (await r.json()) as { id: string; clientStatus: string }[];
      return list.find((a) => a.clientStatus === 'running');
    });
    const url = `${addr.replace('http', 'ws')}/v1/allocations/${allocs.id}/exec?task=sleep&command=${encodeURIComponent('["echo","hi"]')}`;
    const none = await execUpgrade(url);
    assert.equal(none.status, 401);
    assert.match(none.message, /jobs: alloc-exec on "sleeper" needs a token/);
    const weak = await execUpgrade(url, reader);
    assert.equal(weak.status, 403);
    assert.match(weak.message, /lacks jobs: alloc-exec on "sleeper"/);
    assert.equal((await execUpgrade(url, deployer)).status, 101);
    const exec = await berth(['alloc', 'exec', allocs.id.slice(0, 8), '--', 'echo', 'from-exec'], { addr, env: { BERTH_TOKEN: reader } });
    assert.equal(exec.code, 1);
    assert.match(exec.stderr, /lacks jobs: alloc-exec/);
    const ok = await berth(['alloc', 'exec', allocs.id.slice(0, 8), '--', 'echo', 'from-exec'], { addr, env: { BERTH_TOKEN: deployer } });
    assert.equal(ok.stdout, 'from-exec\n', ok.stderr);
  });

  it("the agent's own endpoint answers only servers (they show the node secret)", async () => {
    const nodes = (await (await fetch(`${addr}/v1/nodes`, { headers: { authorization: `Bearer ${rootToken}` } })).json()) as { id: string; httpAddr: string }[];
    const direct = await fetch(`${nodes[0].httpAddr}/v1/client/stats`);
    assert.equal(direct.status, 403);
    assert.match(((await direct.json()) as { error: { message: string } }).error.message, /only berth servers may call an agent/);
    // Through the server, which shows the secret, it works.
    assert.equal((await fetch(`${addr}/v1/nodes/${nodes[0].id}/stats`, { headers: { authorization: `Bearer ${rootToken}` } })).status, 200);
  });

  it('an agent that takes another node\'s id, without its secret, is refused', async () => {
    const agentDir = path.join(dir, 'impostor');
    await fs.mkdir(agentDir, { recursive: true });
    await fs.copyFile(path.join(dev.dataDir, 'agent', 'node-id'), path.join(agentDir, 'node-id'));
    const child = spawn(process.execPath, [path.join(root, 'bin/berth.js'), 'agent', '--server', addr, '--data-dir', agentDir, '--driver', 'process', '--token', rootToken], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (d: Buffer) => (output += d));
    child.stderr.on('data', (d: Buffer) => (output += d));
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    assert.equal(code, 1, output);
    assert.match(output, /registered with another node secret/);
    const nodes = (await (await fetch(`${addr}/v1/nodes`, { headers: { authorization: `Bearer ${rootToken}` } })).json()) as { name: string }[];
    assert.deepEqual(nodes.map((n) => n.name), ['dev'], 'the impostor changed the node');
  });

  it('the anonymous token gets the policy the operator gives it; a deleted token stops at once', async () => {
    const update = await berth(['acl', 'token', 'update', 'anonymous', '--policy', 'reader'], { addr, env: { BERTH_TOKEN: rootToken } });
    assert.equal(update.code, 0, update.stderr);
    assert.equal((await berth(['job', 'status'], { addr })).code, 0);
    const list = JSON.parse((await berth(['acl', 'token', 'list', '--json'], { addr, env: { BERTH_TOKEN: rootToken } })).stdout) as { accessorId: string; description: string }[];
    const accessor = list.find((t) => t.description === 'deployer')!.accessorId;
    assert.equal((await berth(['acl', 'token', 'delete', accessor], { addr, env: { BERTH_TOKEN: rootToken } })).code, 0);
    const gone = await berth(['kv', 'get', 'app/db'], { addr, env: { BERTH_TOKEN: deployer } });
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /ACL token not found/);
  });
});
