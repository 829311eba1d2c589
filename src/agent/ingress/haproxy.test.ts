import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { silentLogger } from '../../lib/index.ts';
import { freePorts } from '../../testing/index.ts';
import { HaproxyIngress } from './haproxy.ts';
import type { IngressPlan } from './ingress-plan.ts';

function installed(): boolean {
  try {
    execFileSync('haproxy', ['-v'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/** A GET with a Host of our choosing (fetch sends its own). */
function get(port: number, host: string): Promise<[number, string]> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', headers: { host }, agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c));
      res.on('end', () => resolve([res.statusCode ?? 0, body]));
    }).on('error', reject);
  });
}

describe('the HAProxy data path', () => {
  test('serves the plan (HTTP and TCP routes), follows instance changes without a reload, and comes back after haproxy is killed', async (t) => {
    if (!installed()) {
      if (process.env.CI === 'true') assert.fail('haproxy is not installed');
      return t.skip('haproxy is not installed');
    }
    const backend = http.createServer((_req, res) => res.end('from backend'));
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    const backendPort = (backend.address() as { port: number }).port;
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'berth-haproxy-'));
    const [port, tcpPort] = await freePorts(2);
    const ingress = new HaproxyIngress({ addresses: [{ host: '127.0.0.1', port }], dir, logger: silentLogger() });
    t.after(async () => {
      await ingress.close();
      backend.close();
      await fs.rm(dir, { recursive: true, force: true });
    });
    await ingress.start();
    const plan = (up: boolean): IngressPlan => ({
      http: [{ service: 'web', host: 'web.example', pathPrefix: '/' }],
      tcp: [{ port: tcpPort, service: 'web' }],
      endpoints: new Map([['web', up ? [{ id: 'w1', host: '127.0.0.1', port: backendPort }] : []]]),
    });
    await ingress.apply(plan(true));
    assert.deepEqual(await get(port, 'web.example'), [200, 'from backend']);
    assert.deepEqual(await get(tcpPort, 'any'), [200, 'from backend'], 'the TCP route');
    const worker = await ingress.workerPid();
    await ingress.apply(plan(false));
    const [status, body] = await get(port, 'web.example');
    assert.equal(status, 503);
    assert.match(body, /no healthy instance of service "web"/);
    assert.equal(await ingress.workerPid(), worker, 'an instance change is made without a reload');
    assert.equal((await get(port, 'nothing.example'))[0], 404);

    const master = Number((await fs.readFile(path.join(dir, 'haproxy.pid'), 'utf8')).trim());
    process.kill(master, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    await ingress.apply(plan(true));
    assert.deepEqual(await get(port, 'web.example'), [200, 'from backend']);
  });
});
