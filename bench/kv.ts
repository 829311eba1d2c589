/**
 * bench/kv.ts: KV throughput at 64 concurrent clients. A `berth server` (sqlite state, its own
 * process) takes PUT and GET over Consul's HTTP API (node:http, keep-alive); in the same run a local
 * etcd (its own process, one member) takes the same load through the etcd3 client. Each phase runs
 * for DURATION seconds over KEYS keys with 100-byte values.
 *
 *   npx tsx bench/kv.ts [--seconds 10] [--clients 64] [--quick]
 * The last line printed is {"put_per_s","get_per_s","etcd_put_per_s","etcd_get_per_s","put_ratio","get_ratio"}.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Etcd3 } from 'etcd3';
import { send as sendRequest, startServer, type Answer } from './berth-server.ts';
import { startEtcd } from '../src/testing/index.ts';
import { closedLoop } from './closed-loop.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, clients: { type: 'string' }, quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const SECONDS = Number(values.seconds ?? (quick ? 3 : 10));
const CLIENTS = Number(values.clients ?? 64);
const KEYS = 1000;
const VALUE = 'x'.repeat(100);
const log = (s: string): void => void process.stderr.write(s + '\n');

/** Run `op` on key numbers in CLIENTS loops for SECONDS; returns operations per second. */
const load = (op: (k: number) => Promise<void>): Promise<number> => closedLoop({ clients: CLIENTS, seconds: SECONDS }, (_c, i) => op(i % KEYS));

const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-kv-'));
const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
const server = await startServer({ dataDir: dir, agent });
const url = server.url;
const send = (method: 'GET' | 'PUT', p: string, body?: string): Promise<Answer> => sendRequest(agent, url + p, { method, body });
const etcd = await startEtcd();
const client = new Etcd3({ hosts: etcd.endpoints });
try {
  log(`berth server (sqlite) at ${url}; etcd at ${etcd.endpoints.join(',')}; ${CLIENTS} clients, ${SECONDS}s per phase, ${KEYS} keys of ${VALUE.length} bytes`);
  const putPerS = await load(async (k) => {
    const res = await send('PUT', `/v1/kv/bench/k${k}`, VALUE);
    if (res.text !== 'true') throw new Error(`PUT answered ${res.status}`);
  });
  log(`berth PUT: ${putPerS}/s`);
  const getPerS = await load(async (k) => {
    const res = await send('GET', `/v1/kv/bench/k${k}`);
    if (res.status !== 200) throw new Error(`GET answered ${res.status}`);
  });
  log(`berth GET: ${getPerS}/s`);
  const etcdPut = await load(async (k) => {
    await client.put(`bench/k${k}`).value(VALUE);
  });
  log(`etcd PUT: ${etcdPut}/s`);
  const etcdGet = await load(async (k) => {
    await client.get(`bench/k${k}`).string();
  });
  log(`etcd GET: ${etcdGet}/s`);
  const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
  log(`ratios berth/etcd: PUT ${ratio(putPerS, etcdPut)}, GET ${ratio(getPerS, etcdGet)}`);
  console.log(JSON.stringify({ put_per_s: putPerS, get_per_s: getPerS, etcd_put_per_s: etcdPut, etcd_get_per_s: etcdGet, put_ratio: ratio(putPerS, etcdPut), get_ratio: ratio(getPerS, etcdGet) }));
} finally {
  client.close();
  agent.destroy();
  await etcd.stop();
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
