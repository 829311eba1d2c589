/**
 * bench/acl.ts: what ACL checks cost. Two `berth server` processes (sqlite state each) side by
 * side in one run, one with --acl and one without, take the same load over HTTP (node:http,
 * keep-alive, CLIENTS concurrent): Consul KV PUT and GET, and job registration (POST /v1/jobs). With
 * ACLs on, requests carry a client token whose policy grants the writes by name pattern, so every
 * request resolves its secret and asks the compiled authorizer (a management token would skip the
 * object lookup). Phases alternate between the two servers, rounds repeat, the ratio is the median.
 * Target: ACL on within 5% of off (ratio >= 0.95).
 *
 *   npx tsx bench/acl.ts [--seconds 5] [--rounds 3] [--clients 32] [--quick] [--control]
 * The last line printed is
 * {"kv_put_off","kv_put_acl","kv_get_off","kv_get_acl","register_off","register_acl","put_ratio","get_ratio","register_ratio"}.
 */
import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { send as sendRequest, startServer } from './berth-server.ts';
import { closedLoop } from './closed-loop.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' }, clients: { type: 'string' }, quick: { type: 'boolean' }, control: { type: 'boolean' } } });
const quick = values.quick ?? false;
const SECONDS = Number(values.seconds ?? (quick ? 2 : 5));
const ROUNDS = Number(values.rounds ?? (quick ? 2 : 3));
const CLIENTS = Number(values.clients ?? 32);
const KEYS = 1000;
const VALUE = 'x'.repeat(100);
const log = (s: string): void => void process.stderr.write(s + '\n');

interface Target {
  url: string;
  headers: Record<string, string>;
  child: ChildProcess;
  dir: string;
  agent: http.Agent;
}

async function start(acl: boolean): Promise<Target> {
  const dir = await mkdtemp(path.join(tmpdir(), `berth-bench-acl-${acl ? 'on' : 'off'}-`));
  const server = await startServer({ dataDir: dir, flags: ['--log-level', 'error', ...(acl ? ['--acl'] : [])] });
  const { url, child } = server;
  const target: Target = { url, headers: {}, child, dir, agent: new http.Agent({ keepAlive: true, maxSockets: CLIENTS }) };
  if (!acl) return target;
  const boot = (await (await fetch(`${url}/v1/acl/bootstrap`, { method: 'POST' })).json()) as { secretId: string };
  const rootHeaders = { authorization: `Bearer ${boot.secretId}`, 'content-type': 'application/json' };
  const rules = 'jobs:\n  "bench-*": [write]\n  "*": [read]\nkv:\n  bench/: [write]\n  bench/private/: [deny]\n';
  await fetch(`${url}/v1/acl/policy/bench`, { method: 'POST', headers: rootHeaders, body: JSON.stringify({ rules }) });
  const token = (await (await fetch(`${url}/v1/acl/token`, { method: 'POST', headers: rootHeaders, body: JSON.stringify({ policies: ['bench'] }) })).json()) as { secretId: string };
  target.headers = { authorization: `Bearer ${token.secretId}` };
  return target;
}

async function send(t: Target, method: 'GET' | 'PUT' | 'POST', p: string, body?: string, type?: string): Promise<number> {
  const headers = type ? { ...t.headers, 'content-type': type } : t.headers;
  const res = await sendRequest(t.agent, t.url + p, { method, body, headers });
  if (res.status !== 200) throw new Error(`${method} ${p} answered ${res.status}`);
  return 200;
}

const jobSpec = (i: number): string =>
  JSON.stringify({
    id: `bench-${i % 50}`,
    type: 'batch',
    groups: [{ name: 'g', count: 1 + (i % 3), tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' }, resources: { cpu: '10m', memory: '8Mi' } }] }],
  });

const phases = {
  put: (t: Target) => closedLoop({ clients: CLIENTS, seconds: SECONDS }, (_c, i) => send(t, 'PUT', `/v1/kv/bench/k${i % KEYS}`, VALUE, 'text/plain').then(() => undefined)),
  get: (t: Target) => closedLoop({ clients: CLIENTS, seconds: SECONDS }, (_c, i) => send(t, 'GET', `/v1/kv/bench/k${i % KEYS}`).then(() => undefined)),
  register: (t: Target) => closedLoop({ clients: CLIENTS, seconds: SECONDS }, (_c, i) => send(t, 'POST', '/v1/jobs', jobSpec(i), 'application/json').then(() => undefined)),
};

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const off = await start(false);
// --control: both without ACLs, to see how far two identical servers differ in this run (the noise).
const on = await start(!values.control);
try {
  // Fill the keys GET reads.
  for (const t of [off, on]) await Promise.all(Array.from({ length: KEYS }, (_, k) => send(t, 'PUT', `/v1/kv/bench/k${k}`, VALUE, 'text/plain')));
  const rates: Record<string, { off: number[]; acl: number[] }> = { put: { off: [], acl: [] }, get: { off: [], acl: [] }, register: { off: [], acl: [] } };
  for (let r = 0; r < ROUNDS; r++) {
    for (const [name, phase] of Object.entries(phases)) {
      // Alternate which goes first, so that drift in the machine's load does not favour one.
      const order: [Target, 'off' | 'acl'][] = r % 2 === 0 ? [[off, 'off'], [on, 'acl']] : [[on, 'acl'], [off, 'off']];
      for (const [t, key] of order) rates[name][key].push(await phase(t));
      log(`round ${r + 1} ${name}: off ${rates[name].off.at(-1)}/s, acl ${rates[name].acl.at(-1)}/s`);
    }
  }
  const m = (name: string, key: 'off' | 'acl'): number => median(rates[name][key]);
  const ratio = (name: string): number => Math.round((median(rates[name].acl.map((a, i) => a / rates[name].off[i])) + Number.EPSILON) * 100) / 100;
  const result = {
    kv_put_off: m('put', 'off'),
    kv_put_acl: m('put', 'acl'),
    kv_get_off: m('get', 'off'),
    kv_get_acl: m('get', 'acl'),
    register_off: m('register', 'off'),
    register_acl: m('register', 'acl'),
    put_ratio: ratio('put'),
    get_ratio: ratio('get'),
    register_ratio: ratio('register'),
  };
  log(`ACL on / off (median of ${ROUNDS} rounds of ${SECONDS} s, ${CLIENTS} clients): KV PUT ${result.put_ratio}, KV GET ${result.get_ratio}, job register ${result.register_ratio} (target >= 0.95)`);
  console.log(JSON.stringify(result));
} finally {
  for (const t of [off, on]) {
    t.child.kill('SIGTERM');
    t.agent.destroy();
  }
  await new Promise((r) => setTimeout(r, 500));
  for (const t of [off, on]) await rm(t.dir, { recursive: true, force: true });
}
