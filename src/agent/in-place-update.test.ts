import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import { BerthClient } from '../api/index.ts';
import { MockMachine, mockDrivers } from '../drivers/index.ts';
import { silentLogger } from '../lib/index.ts';
// An in-process cluster: the agent against a real server, which the layer table keeps agent/ code from importing.
import { Server } from '../server/index.ts';
import { MemoryBackend } from '../state/index.ts';
import { Agent } from './agent.ts';
import { tempDir } from './agent-fixture.test-helper.ts';

const tmp = tempDir('in-place');

async function eventually<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 8_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** What Consul's `/v1/catalog/service/:name` and `/v1/health/service/:name` answer, the fields read here. */
interface CatalogEntry {
  ServiceID: string;
  ServiceTags: string[];
  ServiceMeta: Record<string, string>;
}
interface HealthEntry {
  Service: { ID: string };
  Checks: { CheckID: string; Status: string; Output: string }[];
}

describe('an allocation updated in place', () => {
  let server: Server;
  let agent: Agent;
  let backend: http.Server;
  let port: number;
  const machine = new MockMachine();
  /** Paths the checks probed, in order. */
  const probed: string[] = [];

  before(async () => {
    // The service the checks probe: the mock driver runs nothing, so the test listens on the port.
    backend = http.createServer((req, res) => {
      probed.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((r) => backend.listen(0, '127.0.0.1', r));
    port = (backend.address() as AddressInfo).port;
    server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
    agent = await Agent.start({ serverUrl: server.url, dataDir: path.join(tmp, 'a1'), logger: silentLogger(), drivers: mockDrivers({ machine }), nodeName: 'a1' });
  });
  after(async () => {
    await agent.stop({ stopTasks: true });
    machine.crash();
    await server.stop();
    await new Promise((r) => backend.close(r));
  });

  const job = (tag: string, checkPath: string) => ({
    id: 'web',
    type: 'service',
    groups: [
      {
        name: 'web',
        count: 1,
        ports: [{ label: 'http', static: port }],
        tasks: [
          {
            name: 'web',
            driver: 'process',
            config: { command: 'run' },
            kill_timeout: '100ms',
            services: [{ name: 'web', port: 'http', tags: [tag], meta: { release: tag }, checks: [{ type: 'http', path: checkPath, interval: '50ms', timeout: '1s' }] }],
          },
        ],
      },
    ],
  });
  const catalog = async (): Promise<CatalogEntry[]> => (await fetch(`${server.url}/v1/catalog/service/web`)).json() as Promise<CatalogEntry[]>;
  const passing = async (): Promise<HealthEntry[]> => (await fetch(`${server.url}/v1/health/service/web?passing`)).json() as Promise<HealthEntry[]>;

  it('shows new service tags, meta and checks in the catalog, the allocation and its task running on', async () => {
    const client = new BerthClient({ address: server.url });
    await client.registerJob(job('blue', '/one'));
    const [first] = await eventually('the blue instance passing', async () => {
      const [entry] = await passing();
      return entry?.Checks.some((c) => c.Output.includes('200')) && (await catalog());
    });
    assert.deepEqual([first.ServiceTags, first.ServiceMeta.release], [['blue'], 'blue']);
    const allocIds = server.view.allocsByJob('web').map((a) => a.id);
    const tasks = machine.tasks().map((t) => t.handle.id);
    assert.ok(probed.includes('/one'));

    await client.registerJob(job('green', '/two'));
    const [second] = await eventually('the green tags in the catalog', async () => {
      const entries = await catalog();
      return entries[0]?.ServiceTags[0] === 'green' && entries;
    });
    assert.equal(second.ServiceID, first.ServiceID, 'the same instance, rewritten');
    assert.equal(second.ServiceMeta.release, 'green');
    assert.deepEqual(server.view.allocsByJob('web').map((a) => [a.id, a.jobVersion]), [[allocIds[0], 1]]);

    // The agent runs the new check: it probes /two, and /one no more.
    await eventually('a probe of /two', async () => probed.includes('/two'));
    const ones = probed.filter((p) => p === '/one').length;
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(probed.filter((p) => p === '/one').length, ones, 'the old check stopped');
    const [health] = await passing();
    assert.equal(health?.Service.ID, first.ServiceID, 'still passing');
    assert.deepEqual(machine.tasks().map((t) => t.handle.id), tasks, 'no task restarted');
    assert.ok(machine.tasks().every((t) => !t.exit));
  });
});
