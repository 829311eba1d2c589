/**
 * bench/tls.ts: what TLS costs the KV API. Two `berth server` processes (sqlite state) in the same
 * run, one plain and one with TLS and --verify-incoming (mutual TLS, ECDSA P-256 certificates from
 * the tls layer), take the same PUT and GET load over Consul's HTTP API from CLIENTS keep-alive
 * connections (node:http and node:https agents), phase by phase, plain then TLS. Target: TLS GET
 * at least 0.8x plain.
 *
 *   npx tsx bench/tls.ts [--seconds 10] [--clients 64] [--quick]
 * Plain and TLS run in alternating slices, so that load from elsewhere falls on both alike.
 * The Node client pays for TLS too (more than the server: ~49 against ~28 µs per GET), and it
 * shares the 2 cores with the server, so it bounds both rates. A last phase measures the server
 * alone: `wrk` (C and OpenSSL, Debian's package; one thread, 64 connections) GETs one key from the
 * plain server and from a third one with TLS but without --verify-incoming (wrk presents no client
 * certificate; on keep-alive connections mutual TLS costs nothing more per request), in
 * alternating slices.
 * The last line printed is {"plain_put_per_s","tls_put_per_s","plain_get_per_s","tls_get_per_s",
 * "put_ratio","get_ratio","put_cpu_ratio","get_cpu_ratio","wrk_plain_get_per_s","wrk_tls_get_per_s",
 * "wrk_get_ratio"} (ratios: TLS rate / plain rate, and plain CPU per request / TLS CPU per request,
 * server and client together; wrk_get_ratio: the server's own).
 */
import { execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';
import http from 'node:http';
import https from 'node:https';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { send as sendRequest, startServer, type Answer, type BenchServer } from './berth-server.ts';
import { createCa, createCert, writePair } from '../src/tls/index.ts';
import { readFileSync } from 'node:fs';
import { closedLoop } from './closed-loop.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, clients: { type: 'string' }, quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const SECONDS = Number(values.seconds ?? (quick ? 3 : 10));
const CLIENTS = Number(values.clients ?? 64);
const KEYS = 1000;
/** Alternating slices per side and phase. */
const ROUNDS = quick ? 3 : 5;
const VALUE = 'x'.repeat(100);
const log = (s: string): void => void process.stderr.write(s + '\n');

/** CPU seconds a process has used (user + system), from /proc. */
function cpuSeconds(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid ?? 'self'}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** What one side (plain or TLS) did over its slices. */
interface Tally {
  ops: number;
  seconds: number;
  serverCpu: number;
  clientCpu: number;
}

/** Run `op` on key numbers in CLIENTS loops for `seconds`, adding the operations and CPU to `tally`. */
async function slice(server: ChildProcess, seconds: number, tally: Tally, op: (k: number) => Promise<void>): Promise<void> {
  const before = { server: cpuSeconds(server.pid), client: cpuSeconds(undefined) };
  const started = Date.now();
  const perS = await closedLoop({ clients: CLIENTS, seconds }, (_c, i) => op(i % KEYS));
  const elapsed = (Date.now() - started) / 1000;
  tally.ops += perS * elapsed;
  tally.seconds += elapsed;
  tally.serverCpu += cpuSeconds(server.pid) - before.server;
  tally.clientCpu += cpuSeconds(undefined) - before.client;
}

/**
 * Plain and TLS in alternating slices (ROUNDS of each, SECONDS in all per side), so that load from
 * elsewhere on the machine falls on both alike: operations per second, and the server's and this
 * client's CPU microseconds per operation (which say where TLS costs, whatever the load).
 */
async function compare(what: string, plainOp: (k: number) => Promise<void>, tlsOp: (k: number) => Promise<void>): Promise<{ plain: Result; tls: Result }> {
  const plainTally: Tally = { ops: 0, seconds: 0, serverCpu: 0, clientCpu: 0 };
  const tlsTally: Tally = { ops: 0, seconds: 0, serverCpu: 0, clientCpu: 0 };
  for (let r = 0; r < ROUNDS; r++) {
    await slice(plain.child, SECONDS / ROUNDS, plainTally, plainOp);
    await slice(secured.child, SECONDS / ROUNDS, tlsTally, tlsOp);
  }
  const result = (t: Tally): Result => ({ perS: Math.round(t.ops / t.seconds), serverUs: Math.round((t.serverCpu * 1e6) / t.ops), clientUs: Math.round((t.clientCpu * 1e6) / t.ops) });
  const out = { plain: result(plainTally), tls: result(tlsTally) };
  show(`plain ${what}`, out.plain);
  show(`TLS ${what}  `, out.tls);
  return out;
}

interface Result {
  perS: number;
  serverUs: number;
  clientUs: number;
}
const show = (name: string, r: Result): void => log(`${name}: ${r.perS}/s (server ${r.serverUs} µs CPU per request, client ${r.clientUs} µs)`);

const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-tls-'));
const ca = await createCa();
const caFile = writePair(dir, 'ca', ca).cert;
const serverFiles = writePair(dir, 'server', await createCert(ca, { role: 'server' }));
const cli = await createCert(ca, { role: 'cli' });

// node:http(s) with keep-alive, as bench/kv.ts: the client must not be what sets the rate.
const plainAgent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
const tlsAgent = new https.Agent({ keepAlive: true, maxSockets: CLIENTS, ca: ca.cert, cert: cli.cert, key: cli.key, servername: 'server.global.berth' });

const send = (base: string, method: 'GET' | 'PUT', p: string, body?: string): Promise<Answer> =>
  sendRequest(base.startsWith('https:') ? tlsAgent : plainAgent, base + p, { method, body });
const start = (name: string, flags: string[], agent: http.Agent): Promise<BenchServer> =>
  startServer({ dataDir: path.join(dir, name), flags, https: agent === tlsAgent, agent });
const plain = await start('plain', [], plainAgent);
const secured = await start('tls', ['--tls-cert', serverFiles.cert, '--tls-key', serverFiles.key, '--tls-ca', caFile, '--verify-incoming'], tlsAgent);
const oneWay = await start('tls-one-way', ['--tls-cert', serverFiles.cert, '--tls-key', serverFiles.key, '--tls-ca', caFile], tlsAgent);

/** Requests per second `wrk` gets GETting `url` for `seconds` (one thread, CLIENTS connections). */
async function wrk(url: string, seconds: number): Promise<number> {
  const { stdout } = await promisify(execFile)('wrk', ['-t1', `-c${CLIENTS}`, `-d${seconds}s`, url]).catch((err: Error) => {
    throw new Error(`Cannot run wrk (${err.message}): apt-get install wrk`);
  });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(stdout);
  if (!m || /Non-2xx/.test(stdout)) throw new Error(`wrk on ${url} did not get only 200s:\n${stdout}`);
  return Number(m[1]);
}
try {
  log(`plain ${plain.url}, TLS ${secured.url} (mutual); ${CLIENTS} clients, ${SECONDS}s per phase, ${KEYS} keys of ${VALUE.length} bytes`);
  const put = (base: string) => async (k: number): Promise<void> => {
    const res = await send(base, 'PUT', `/v1/kv/bench/k${k}`, VALUE);
    if (res.text !== 'true') throw new Error(`PUT answered ${res.status}`);
  };
  const get = (base: string) => async (k: number): Promise<void> => {
    const res = await send(base, 'GET', `/v1/kv/bench/k${k}`);
    if (res.status !== 200) throw new Error(`GET answered ${res.status}`);
  };
  const putRun = await compare('PUT', put(plain.url), put(secured.url));
  const getRun = await compare('GET', get(plain.url), get(secured.url));
  const [plainPut, tlsPut, plainGet, tlsGet] = [putRun.plain, putRun.tls, getRun.plain, getRun.tls].map((r) => r.perS);
  // The server alone, with a client whose TLS is cheap: wrk, alternating slices, the median ratio.
  await new Promise<void>((resolve, reject) => {
    const req = https.request(`${oneWay.url}/v1/kv/bench/k1`, { method: 'PUT', ca: ca.cert, servername: 'server.global.berth' }, (res) => res.resume().on('end', resolve));
    req.on('error', reject);
    req.end(VALUE);
  });
  const wrkRates = { plain: [] as number[], tls: [] as number[] };
  for (let r = 0; r < ROUNDS; r++) {
    wrkRates.plain.push(await wrk(`${plain.url}/v1/kv/bench/k1`, Math.max(1, Math.round(SECONDS / ROUNDS))));
    wrkRates.tls.push(await wrk(`${oneWay.url}/v1/kv/bench/k1`, Math.max(1, Math.round(SECONDS / ROUNDS))));
  }
  const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const wrkRatio = Math.round(med(wrkRates.tls.map((t, i) => t / wrkRates.plain[i])) * 100) / 100;
  log(`wrk GET (the server alone): plain ${Math.round(med(wrkRates.plain))}/s, TLS ${Math.round(med(wrkRates.tls))}/s, ratio ${wrkRatio} (target >= 0.8)`);
  const cpu = (r: Result): number => r.serverUs + r.clientUs;
  const ratio = (a: number, b: number): number => Math.round((a / b) * 100) / 100;
  log(`TLS/plain: PUT ${ratio(tlsPut, plainPut)}, GET ${ratio(tlsGet, plainGet)} (target GET >= 0.8); by CPU per request (server + client): PUT ${ratio(cpu(putRun.plain), cpu(putRun.tls))}, GET ${ratio(cpu(getRun.plain), cpu(getRun.tls))}`);
  console.log(
    JSON.stringify({
      plain_put_per_s: plainPut,
      tls_put_per_s: tlsPut,
      plain_get_per_s: plainGet,
      tls_get_per_s: tlsGet,
      put_ratio: ratio(tlsPut, plainPut),
      get_ratio: ratio(tlsGet, plainGet),
      put_cpu_ratio: ratio(cpu(putRun.plain), cpu(putRun.tls)),
      get_cpu_ratio: ratio(cpu(getRun.plain), cpu(getRun.tls)),
      wrk_plain_get_per_s: Math.round(med(wrkRates.plain)),
      wrk_tls_get_per_s: Math.round(med(wrkRates.tls)),
      wrk_get_ratio: wrkRatio,
    }),
  );
} finally {
  plainAgent.destroy();
  tlsAgent.destroy();
  for (const s of [plain, secured, oneWay]) await s.stop();
  await rm(dir, { recursive: true, force: true });
}
