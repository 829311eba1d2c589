import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { ServerPool } from '../../api/index.ts';
import { MockDriver } from '../../drivers/index.ts';
import type { Job } from '../../model/index.ts';
import { mockAlloc, mockGroup, mockJob, mockTask } from '../../testing/index.ts';
import { allocRunner, until } from '../agent-fixture.test-helper.ts';
import { withDns } from './dns.ts';

/** A stand-in for the server's check endpoint: records every update. */
async function fakeServer(t: { after: (fn: () => void) => void }): Promise<{ url: string; updates: { id: string; Status: string }[] }> {
  const updates: { id: string; Status: string }[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      // Anything else the runner asks (its workload token) is not this stand-in's business.
      if (req.method !== 'PUT' || !req.url!.startsWith('/v1/agent/check/update/')) {
        res.statusCode = 404;
        return void res.end('{"error":{"code":"not_found","message":"no such route","details":[]}}');
      }
      const id = decodeURIComponent(req.url!.replace('/v1/agent/check/update/', ''));
      updates.push({ id, ...(JSON.parse(body) as { Status: string }) });
      res.end('null');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => server.close());
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, updates };
}

async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('service checks on the agent', () => {
  it('report a failing check to the server and restart the task after check_restart.limit failures', async (t) => {
    const server = await fakeServer(t);
    const port = await closedPort();
    const job: Job = mockJob({
      groups: [
        mockGroup({
          ports: [{ label: 'http' }],
          services: [
            {
              name: 'web',
              portLabel: 'http',
              tags: [],
              meta: {},
              addressMode: 'auto',
              checks: [{ type: 'tcp', intervalMs: 30, timeoutMs: 200, successBeforePassing: 0, failuresBeforeCritical: 0, checkRestart: { limit: 2, graceMs: 0 } }],
            },
          ],
          tasks: [mockTask({ name: 't', config: { command: 'run' }, killTimeoutMs: 20 })],
          restart: { attempts: 5, intervalMs: 60_000, delayMs: 10, mode: 'fail' },
        }),
      ],
    });
    const alloc = mockAlloc({ jobId: job.id, ports: [{ label: 'http', value: port, to: port }] });
    const { runner } = await allocRunner({ job, alloc, drivers: [new MockDriver()], servers: new ServerPool(server.url) });
    runner.start();
    t.after(() => runner.stop());
    await until('a critical report', () => server.updates.some((u) => u.Status === 'critical'));
    assert.match(server.updates[0].id, /^service:_berth-group-.*-web-http$/);
    // Reported once: only transitions go to the server.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(server.updates.length, 1);
    await until('the task restarted by check_restart', () => runner.taskStates().t.restarts >= 1);
  });

  it('report a passing check again after its task restarts, as the server registers the instance afresh', async (t) => {
    const server = await fakeServer(t);
    const listening = net.createServer((c) => c.end());
    await new Promise<void>((r) => listening.listen(0, '127.0.0.1', r));
    t.after(() => listening.close());
    const port = (listening.address() as AddressInfo).port;
    const job: Job = mockJob({
      groups: [
        mockGroup({
          ports: [{ label: 'http' }],
          services: [{ name: 'web', portLabel: 'http', tags: [], meta: {}, addressMode: 'auto', checks: [{ type: 'tcp', intervalMs: 30, timeoutMs: 200, successBeforePassing: 0, failuresBeforeCritical: 0 }] }],
          tasks: [mockTask({ name: 't', config: { command: 'run' }, killTimeoutMs: 20 })],
        }),
      ],
    });
    const alloc = mockAlloc({ jobId: job.id, ports: [{ label: 'http', value: port, to: port }] });
    const { runner } = await allocRunner({ job, alloc, drivers: [new MockDriver()], servers: new ServerPool(server.url) });
    runner.start();
    t.after(() => runner.stop());
    await until('a passing report', () => server.updates.some((u) => u.Status === 'passing'));
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(server.updates.map((u) => u.Status), ['passing'], 'only transitions while the task runs on');
    await runner.runnerOf('t')!.restart('restarted by an operator');
    await until('passing reported again after the restart', () => server.updates.filter((u) => u.Status === 'passing').length >= 2);
  });

  it('docker tasks get berth DNS servers unless they name their own or use the host network', () => {
    const dns = { servers: ['172.17.0.1'], search: [] };
    assert.deepEqual(withDns({ image: 'x' }, 'docker', dns).dnsServers, ['172.17.0.1']);
    assert.deepEqual(withDns({ image: 'x', dnsServers: ['1.1.1.1'] }, 'docker', dns).dnsServers, ['1.1.1.1']);
    assert.equal(withDns({ image: 'x', networkMode: 'host' }, 'docker', dns).dnsServers, undefined);
    assert.equal(withDns({ command: 'x' }, 'process', dns).dnsServers, undefined);
    assert.deepEqual(withDns({ image: 'x' }, 'docker', { servers: ['172.17.0.1'], search: ['service.berth'] }).dnsSearch, ['service.berth']);
    assert.equal(withDns({ image: 'x' }, 'docker', undefined).dnsServers, undefined);
  });
});
