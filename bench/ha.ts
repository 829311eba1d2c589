/**
 * bench/ha.ts: what running several servers on etcd costs and buys, against one server on SQLite,
 * in the same run on the same machine.
 *
 *   - failover: three `berth server --etcd` processes on a three-member etcd; the leader is killed
 *     with SIGKILL and a job registered at once (through a client given every server); the time
 *     from the kill to its first allocation (its create time, set by the new leader) is one
 *     failover. The killed server is started again before the next kill.
 *   - placements/s: the same jobs (JOBS x COUNT allocations) registered over HTTP on simulated
 *     nodes (registered through the API, with a 1 h heartbeat TTL) on the etcd cluster above and on
 *     one `berth server` with SQLite state; from the first registration to the last allocation's
 *     create time.
 *   - KV PUT/s over Consul's HTTP API at CLIENTS concurrent clients (node:http, keep-alive), spread
 *     over the three servers on etcd, all on the one SQLite server.
 *
 *   npx tsx bench/ha.ts [--kills 10] [--jobs 50] [--count 20] [--seconds 5] [--clients 64] [--quick]
 * The last line printed is
 * {"failover_p50_s","failover_p99_s","failover_max_s","false_failovers","placements_per_s_etcd","placements_per_s_sqlite",
 * "kv_put_per_s_etcd","kv_put_per_s_sqlite","etcd_direct_put_per_s","kv_put_ratio_to_etcd","placements_ratio_to_sqlite"}
 * (etcd_direct: the peer, the etcd3 client on the same three members; false_failovers: leader
 * changes seen while placements and KV PUTs load the cluster, with no kill).
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { BerthClient } from '../src/api/index.ts';
import type { Allocation } from '../src/model/index.ts';
import { startServer } from '../test/harness/cluster.ts';
import { startHaCluster } from '../test/harness/ha.ts';
import { closedLoop } from './closed-loop.ts';

const { values } = parseArgs({
  options: { kills: { type: 'string' }, jobs: { type: 'string' }, count: { type: 'string' }, seconds: { type: 'string' }, clients: { type: 'string' }, nodes: { type: 'string' }, quick: { type: 'boolean' } },
});
const quick = values.quick ?? false;
const KILLS = Number(values.kills ?? (quick ? 3 : 10));
const NODES = Number(values.nodes ?? (quick ? 20 : 100));
const JOBS = Number(values.jobs ?? (quick ? 10 : 50));
const COUNT = Number(values.count ?? 20);
const SECONDS = Number(values.seconds ?? (quick ? 2 : 5));
const WARMUP_SECONDS = quick ? 1 : 2;
const CLIENTS = Number(values.clients ?? 64);
const KEYS = 1000;
const VALUE = 'x'.repeat(100);
/** Servers keep simulated nodes ready without heartbeats for the whole run. */
const SERVER_FLAGS = ['--heartbeat-ttl', '1h'];
const benchStart = Date.now();
const log = (s: string): void => void process.stderr.write(`[${((Date.now() - benchStart) / 1000).toFixed(1)}s] ${s}\n`);

/** Simulated node `i`: big enough that every job fits many times over. */
function node(i: number): object {
  const id = `bench-node-${String(i).padStart(4, '0')}`;
  return {
    id,
    name: id,
    datacenter: 'dc1',
    address: `10.0.${i >> 8}.${i & 255}`,
    httpAddr: '',
    attributes: { os: 'linux', arch: 'x86_64' },
    drivers: { process: { detected: true, healthy: true } },
    defaultDriver: 'process',
    resources: { cpu: 16, memoryMiB: 32_768 },
    portRange: { min: 20_000, max: 32_000 },
  };
}

/** A service job of `count` small processes (never started: the nodes are simulated). */
function job(id: string, count: number): object {
  return { id, type: 'service', groups: [{ name: 'g', count, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sleep', args: ['600'] }, resources: { cpu: '100m', memory: '64Mi' } }] }] };
}

async function registerNodes(client: BerthClient): Promise<void> {
  for (let i = 0; i < NODES; i += 10) await Promise.all(Array.from({ length: Math.min(10, NODES - i) }, (_, k) => client.registerNode(node(i + k) as never)));
}

/** The first allocation of a job, polled every 20 ms. */
async function firstAlloc(client: BerthClient, jobId: string, timeoutMs: number): Promise<Allocation> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const allocs = (await client.jobAllocations(jobId).catch(() => ({ value: [] as Allocation[] }))).value;
    if (allocs.length) return allocs.reduce((a, b) => (a.createTime <= b.createTime ? a : b));
    if (Date.now() > deadline) throw new Error(`Cannot measure a failover: job ${jobId} got no allocation within ${timeoutMs} ms`);
    await sleep(20);
  }
}

/** Register JOBS jobs of COUNT (8 at a time) and wait until every allocation exists; placements per second. */
async function placements(client: BerthClient, prefix: string): Promise<number> {
  const ids = Array.from({ length: JOBS }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`);
  const t0 = Date.now();
  for (let i = 0; i < ids.length; i += 8) await Promise.all(ids.slice(i, i + 8).map((id) => client.registerJob(job(id, COUNT), 'json')));
  const want = JOBS * COUNT;
  const deadline = Date.now() + 600_000;
  for (;;) {
    const allocs = (await client.text('/v1/allocations').then((t) => JSON.parse(t) as Allocation[])).filter((a) => a.jobId.startsWith(`${prefix}-`));
    if (allocs.length >= want) {
      const last = Math.max(...allocs.map((a) => a.createTime));
      return Math.round(want / ((last - t0) / 1000));
    }
    if (Date.now() > deadline) throw new Error(`Cannot measure placements: ${allocs.length} of ${want} placed after 10 minutes`);
    await sleep(200);
  }
}

/**
 * CLIENTS loops of `put(client, key)` for SECONDS, on keys bench/k0..; operations per second. A
 * warm-up of the same load comes first, not counted: the first second of either side (a cold
 * JIT, keys created rather than updated) measured a third of the rest.
 */
async function putLoad(put: (c: number, key: string) => Promise<void>): Promise<number> {
  await closedLoop({ clients: CLIENTS, seconds: WARMUP_SECONDS }, (c, i) => put(c, `bench/k${i % KEYS}`));
  return closedLoop({ clients: CLIENTS, seconds: SECONDS }, (c, i) => put(c, `bench/k${i % KEYS}`));
}

/**
 * Polls which server leads every 100 ms until stopped; the number of changes seen. Under load and
 * without a kill, any change is a false failover (a lease renewal that did not keep up).
 */
function watchLeader(client: BerthClient): { stop: () => Promise<number> } {
  let running = true;
  let changes = 0;
  const loop = (async () => {
    let last = '';
    while (running) {
      const leader = await client.text('/v1/status/leader').catch(() => '');
      if (leader && last && leader !== last) changes++;
      if (leader) last = leader;
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return changes;
    },
  };
}

/** The peer: the same PUT load with the etcd3 client straight against the etcd members. */
async function etcdPuts(endpoints: string[]): Promise<number> {
  const client = new Etcd3({ hosts: endpoints });
  try {
    return await putLoad(async (_c, key) => {
      await client.put(key).value(VALUE);
    });
  } finally {
    client.close();
  }
}

/** CLIENTS loops of KV PUTs for SECONDS, client c on server c mod urls; PUTs per second. */
async function kvPuts(urls: string[]): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
  const put = (url: string, key: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const req = http.request(`${url}/v1/kv/${key}`, { method: 'PUT', agent }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => (text.trim() === 'true' ? resolve() : reject(new Error(`PUT ${url}/v1/kv/${key} answered ${res.statusCode}: ${text.slice(0, 200)}`))));
      });
      req.on('error', reject);
      req.end(VALUE);
    });
  try {
    return await putLoad((c, key) => put(urls[c % urls.length], key));
  } finally {
    agent.destroy();
  }
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}
const round2 = (x: number): number => Math.round(x * 100) / 100;

log(`bench/ha: ${KILLS} leader kills; ${JOBS} jobs x ${COUNT} allocations on ${NODES} simulated nodes; KV PUT ${SECONDS}s at ${CLIENTS} clients`);

// etcd: three members, three servers; then the SQLite server, which idles until its turn.
const ha = await startHaCluster({ servers: 3, agents: 0, etcdMembers: 3, serverFlags: SERVER_FLAGS });
const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-ha-'));
const single = await startServer(dir, undefined, '127.0.0.1', SERVER_FLAGS).catch(async (err: unknown) => {
  await ha.stop();
  throw err;
});
const failovers: number[] = [];
let etcdPlacements = 0;
let etcdKv = 0;
let sqlitePlacements = 0;
let sqliteKv = 0;
let etcdDirect = 0;
let falseFailovers = 0;
try {
  await ha.leader(30_000);
  await registerNodes(ha.client);
  log(`etcd: 3 members, servers ${ha.urls.join(', ')}`);
  for (let k = 0; k < KILLS; k++) {
    const leader = await ha.leader(30_000);
    const index = ha.servers.indexOf(leader);
    const killedAt = Date.now();
    await leader.kill9();
    // Started again at once: it takes longer to come up than the leader's lease takes to expire.
    const restarted = ha.startServer(index);
    const alloc = await firstAlloc(ha.client, (await ha.client.registerJob(job(`failover-${k}`, 1), 'json')).jobId, 60_000);
    await restarted;
    const seconds = (alloc.createTime - killedAt) / 1000;
    failovers.push(seconds);
    log(`kill ${k + 1}: ${leader.name} killed; first placement ${seconds.toFixed(2)} s later`);
  }
  await ha.leader(30_000);
  const leaderWatch = watchLeader(ha.client);
  etcdPlacements = await placements(ha.client, 'etcd');
  log(`etcd placements: ${etcdPlacements}/s`);
  etcdKv = await kvPuts(ha.urls);
  log(`etcd KV PUT: ${etcdKv}/s (clients spread over ${ha.urls.length} servers)`);
  falseFailovers = await leaderWatch.stop();
  log(`leader changes under placement and KV load, no kill: ${falseFailovers}`);
  etcdDirect = await etcdPuts(ha.etcd.endpoints);
  log(`etcd3 client straight to the same members: ${etcdDirect} PUT/s`);
  await ha.stop();

  // SQLite: one server, the same nodes, jobs and load.
  const client = new BerthClient({ address: single.addr });
  await registerNodes(client);
  sqlitePlacements = await placements(client, 'sqlite');
  log(`sqlite placements: ${sqlitePlacements}/s`);
  sqliteKv = await kvPuts([single.addr]);
  log(`sqlite KV PUT: ${sqliteKv}/s`);
} finally {
  await ha.stop();
  await single.stop();
  await rm(dir, { recursive: true, force: true });
}

const sorted = [...failovers].sort((a, b) => a - b);
log(`failover over ${sorted.length} kills: p50 ${percentile(sorted, 0.5).toFixed(2)} s, p99 ${percentile(sorted, 0.99).toFixed(2)} s, max ${sorted[sorted.length - 1].toFixed(2)} s`);
log(`ratios: placements etcd/sqlite ${round2(etcdPlacements / sqlitePlacements)} (target >= 0.7), KV PUT berth-on-etcd/etcd3 ${round2(etcdKv / etcdDirect)} (target >= 0.8), KV PUT etcd/sqlite ${round2(etcdKv / sqliteKv)}`);
console.log(
  JSON.stringify({
    failover_p50_s: round2(percentile(sorted, 0.5)),
    failover_p99_s: round2(percentile(sorted, 0.99)),
    failover_max_s: round2(sorted[sorted.length - 1]),
    false_failovers: falseFailovers,
    placements_per_s_etcd: etcdPlacements,
    placements_per_s_sqlite: sqlitePlacements,
    kv_put_per_s_etcd: etcdKv,
    kv_put_per_s_sqlite: sqliteKv,
    etcd_direct_put_per_s: etcdDirect,
    kv_put_ratio_to_etcd: round2(etcdKv / etcdDirect),
    placements_ratio_to_sqlite: round2(etcdPlacements / sqlitePlacements),
  }),
);
