/**
 * bench/watch.ts: blocking-query fan-out. A `berth server` (sqlite, its own process) holds WATCHERS
 * blocking reads (`GET /v1/kv/w/<i>?index=N&wait=5m`), one per distinct key, each on its own
 * connection. Then WRITES times, one key is written: only that key's watcher may answer; the time
 * from sending the PUT to the watcher's answer is its notify latency. Any other watcher answering
 * counts as a wrong wake.
 *
 *   npx tsx bench/watch.ts [--watchers 10000] [--writes 200] [--quick]
 * The last line printed is {"watchers","woken","expected_woken","p50_ms","p99_ms"}.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import http from 'node:http';
import { freePort } from '../test/harness/berth.ts';

const { values } = parseArgs({ options: { watchers: { type: 'string' }, writes: { type: 'string' }, quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const WATCHERS = Number(values.watchers ?? 10_000);
const WRITES = Number(values.writes ?? (quick ? 50 : 200));
const log = (s: string): void => void process.stderr.write(s + '\n');

const root = path.resolve(import.meta.dirname, '..');
const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-watch-'));
const port = await freePort();
const dnsPort = await freePort();
const server = spawn(process.execPath, [path.join(root, 'bin/berth.js'), 'server', '--data-dir', dir, '--http-addr', `127.0.0.1:${port}`, '--dns-addr', `127.0.0.1:${dnsPort}`], { stdio: 'ignore' });
const url = `http://127.0.0.1:${port}`;
// One connection per watcher, as 10,000 separate clients would have.
const agent = new http.Agent({ keepAlive: true, maxSockets: Infinity });

function call(method: 'GET' | 'PUT', p: string, body?: string): Promise<{ status: number; index: number }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url + p, { method, agent }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, index: Number(res.headers['x-consul-index'] ?? 0) }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

for (let i = 0; ; i++) {
  try {
    await call('GET', '/v1/status/leader');
    break;
  } catch {
    if (i > 200) throw new Error('Cannot start berth server for the bench');
    await new Promise((r) => setTimeout(r, 100));
  }
}

try {
  // Seed the keys (in txns of 64) so each watcher starts from its key's index.
  for (let i = 0; i < WATCHERS; i += 64) {
    const ops = Array.from({ length: Math.min(64, WATCHERS - i) }, (_, j) => ({ KV: { Verb: 'set', Key: `w/${i + j}`, Value: 'MA==' } }));
    await call('PUT', '/v1/txn', JSON.stringify(ops));
  }
  const indexes = await Promise.all(Array.from({ length: WATCHERS }, async (_, i) => (await call('GET', `/v1/kv/w/${i}`)).index));
  const sentAt = new Map<number, number>();
  const latencies: number[] = [];
  let woken = 0;
  let wrong = 0;
  let wake: (() => void) | undefined;
  let stopping = false;
  const arm = (i: number): void => {
    call('GET', `/v1/kv/w/${i}?index=${indexes[i]}&wait=5m`).then(
      (res) => {
        if (stopping) return;
        const sent = sentAt.get(i);
        if (sent === undefined) wrong++;
        else {
          latencies.push(performance.now() - sent);
          sentAt.delete(i);
          woken++;
          wake?.();
        }
        indexes[i] = res.index;
        arm(i);
      },
      () => {},
    );
  };
  const t0 = performance.now();
  for (let i = 0; i < WATCHERS; i++) arm(i);
  // Let every blocking read reach the server before writing.
  await new Promise((r) => setTimeout(r, Math.max(2000, WATCHERS / 2)));
  log(`${WATCHERS} watchers armed in ${Math.round(performance.now() - t0)} ms; ${WRITES} writes, one at a time`);
  for (let w = 0; w < WRITES; w++) {
    const key = Math.floor(Math.random() * WATCHERS);
    const done = new Promise<void>((r) => (wake = r));
    sentAt.set(key, performance.now());
    await call('PUT', `/v1/kv/w/${key}`, `v${w}`);
    await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
  }
  // Any wrong wake would have answered by now.
  await new Promise((r) => setTimeout(r, 500));
  stopping = true;
  latencies.sort((a, b) => a - b);
  const pct = (p: number): number => Math.round((latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? NaN) * 10) / 10;
  log(`woken ${woken} of ${WRITES} expected, ${wrong} watchers woke for a key they do not watch; notify p50 ${pct(50)} ms, p99 ${pct(99)} ms`);
  console.log(JSON.stringify({ watchers: WATCHERS, woken: woken + wrong, expected_woken: WRITES, p50_ms: pct(50), p99_ms: pct(99) }));
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  agent.destroy();
  await rm(dir, { recursive: true, force: true });
}
