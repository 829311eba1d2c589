/**
 * A realistic cluster for the UI's pictures and benchmark: `berth dev` plus extra agents (process
 * driver), a few dozen jobs of every kind, HTTP services with passing and failing checks, a canary
 * deployment waiting for promotion, a chain of `after` jobs with a failed step, a service held until
 * another is healthy, a job that fits no node, KV keys.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BerthClient, DiscoveryClient } from '../../src/api/index.ts';
import { eventually, startDev, type DevProcess } from './berth.ts';
import { startAgent, type BerthProcess } from './cluster.ts';
import { killTasksUnder } from './observe.ts';

/** The cluster, and how to take it down. */
export interface UiCluster {
  dev: DevProcess;
  client: BerthClient;
  stop(): Promise<void>;
}

const sleeper = (id: string, count: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  type: 'service',
  ...extra,
  groups: [{ name: id.split('-')[0], count, tasks: [{ name: 'main', driver: 'process', config: { command: '/bin/sh', args: ['-c', `echo "${id} started"; while :; do sleep 5; echo "${id} working"; done`] }, resources: { cpu: 0.05, memory: '24MiB' } }] }],
});

/** An HTTP service in Node, answering its check path with `status`. */
const httpService = (id: string, count: number, status: number): Record<string, unknown> => ({
  id,
  type: 'service',
  groups: [
    {
      name: id,
      count,
      ports: [{ label: 'http' }],
      services: [{ name: id, port: 'http', tags: ['http', 'v1'], meta: { team: 'platform' }, checks: [{ name: 'health', type: 'http', path: '/health', interval: '2s', timeout: '1s' }] }],
      tasks: [
        {
          name: 'server',
          driver: 'process',
          config: { command: 'node', args: ['-e', `require('http').createServer((q, s) => { s.statusCode = q.url === '/health' ? ${status} : 200; s.end('ok') }).listen(Number(process.env.BERTH_PORT_http), () => console.log('listening on', process.env.BERTH_PORT_http))`] },
          resources: { cpu: 0.1, memory: '48MiB' },
        },
      ],
    },
  ],
});

const step = (id: string, after: string[], code = 0): Record<string, unknown> => ({
  id,
  type: 'batch',
  ...(after.length > 0 ? { after } : {}),
  groups: [{ name: 'step', restart: { attempts: 0, mode: 'fail' }, reschedule: { attempts: 0 }, tasks: [{ name: 'run', driver: 'process', config: { command: '/bin/sh', args: ['-c', `echo "${id}"; sleep 0.5; exit ${code}`] }, resources: { cpu: 0.05, memory: '16MiB' } }] }],
});

/** Register everything a busy cluster has. */
async function populate(client: BerthClient, addr: string): Promise<void> {
  const teams = ['billing', 'search', 'auth', 'media', 'mail', 'ledger', 'report', 'ingest', 'notify', 'geo', 'cart', 'feed'];
  for (const t of teams) await client.registerJob(sleeper(`${t}-api`, 1 + (t.length % 3)));
  for (const t of teams.slice(0, 8)) await client.registerJob(sleeper(`${t}-worker`, 1));
  await client.registerJob(httpService('web', 3, 200));
  await client.registerJob(httpService('search-http', 1, 500));
  for (const [id, code] of [['nightly-backup', 0], ['reindex', 1], ['cleanup', 0]] as const) await client.registerJob(step(id, [], code));
  await client.registerJob({ ...step('report-cron', []), periodic: { cron: '*/15 * * * *' } });
  await client.registerJob(step('etl-load', ['etl-transform']));
  await client.registerJob(step('etl-transform', ['etl-extract'], 1));
  await client.registerJob(step('etl-publish', ['etl-load']));
  await client.registerJob(step('etl-extract', []));
  await client.registerJob(step('etl-audit', ['etl-extract']));
  // A service held until another is healthy (its check fails: it stays held), and one that fits no node.
  await client.registerJob(sleeper('search-frontend', 1, { after: [{ job: 'search-http', condition: 'healthy' }] }));
  const big = sleeper('ml-trainer', 1) as { groups: { tasks: { resources: Record<string, unknown> }[] }[] };
  big.groups[0].tasks[0].resources = { cpu: 0.5, memory: '64GiB' };
  await client.registerJob(big);
  // A rolling update waiting for its canary to be promoted.
  const update = { update: { max_parallel: 1, health_check: 'task_states', min_healthy_time: '1s', canary: 1 } };
  await client.registerJob(sleeper('checkout-api', 3, update));
  await eventually('checkout v0 to be deployed', async () => (await client.jobDeployment('checkout-api'))?.status === 'successful', 60_000);
  const v1 = sleeper('checkout-api', 3, update) as { groups: { tasks: { config: { args: string[] } }[] }[] };
  v1.groups[0].tasks[0].config.args[1] = v1.groups[0].tasks[0].config.args[1].replace('sleep 5', 'sleep 4');
  await client.registerJob(v1);
  const kv = new DiscoveryClient(client.servers);
  for (const [k, v] of [['config/web/replicas', '3'], ['config/web/feature-flags', '{"newCheckout": true}'], ['config/search/index', 'products-v7'], ['locks/reindex', '']]) await kv.kvPut(k, v);
  // A lock held by a session, for the KV page's lock holders.
  const session = (await (await fetch(`${addr}/v1/session/create`, { method: 'PUT', body: JSON.stringify({ Name: 'reindex-leader', Behavior: 'release' }) })).json()) as { ID: string };
  await fetch(`${addr}/v1/kv/locks/reindex?acquire=${session.ID}`, { method: 'PUT', body: 'search-worker' });
}

/** Start the cluster with `agents` extra nodes and fill it. */
export async function startUiCluster(agents = 2): Promise<UiCluster> {
  const dev = await startDev({ driver: 'process' });
  const dirs: string[] = [];
  const procs: BerthProcess[] = [];
  for (let i = 0; i < agents; i++) {
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-ui-agent-'));
    dirs.push(dir);
    procs.push(await startAgent({ servers: [dev.addr], dataDir: dir, nodeName: `node-${String.fromCharCode(98 + i)}`, driver: 'process' }));
  }
  const client = new BerthClient({ address: dev.addr });
  await eventually('every node ready', async () => (await client.listNodes()).value.filter((n) => n.status === 'ready').length === agents + 1);
  await populate(client, dev.addr);
  return {
    dev,
    client,
    stop: async () => {
      await Promise.all(procs.map((p) => p.stop()));
      await dev.cleanup();
      for (const d of dirs) killTasksUnder(d);
      await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
    },
  };
}
