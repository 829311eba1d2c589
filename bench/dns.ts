/**
 * bench/dns.ts: DNS queries per second, berth against dnsmasq, in one run, with dnsperf as the
 * load generator for both:
 *   berth    a berth server (memory state) whose catalog holds S services of 3 instances each,
 *            DNS served by W worker processes (default 2: both cores)
 *   dnsmasq  dnsmasq with the same names and addresses as --host-record entries
 * While dnsperf loads each server, a sampler sends a few hundred queries one at a time and takes
 * their latency percentiles (dnsperf reports only mean and max).
 *
 * Both servers run for the whole bench and take turns under dnsperf, round after round, so that
 * a change in what else the machine is doing hits both alike; each side's figures are its median
 * round (by q/s). On a machine busy with other work the rates say more about how the scheduler
 * shares the cores (berth's 2 processes against dnsmasq's 1) than about either server, so each
 * turn also measures the CPU the server's processes spent per answered query, and the JSON line
 * carries the load average.
 *
 *   npx tsx bench/dns.ts [--services 50] [--seconds 10] [--rounds 3] [--workers 2] [--outstanding 1000] [--clients 4] [--max-qps N] [--quick]
 * --clients is dnsperf's -c: its sockets, each with its own source port. SO_REUSEPORT spreads
 * datagrams over the workers by source address, so few client sockets can load one worker more.
 * --max-qps caps dnsperf's rate (its -Q): with both servers held to the same rate, the CPU per
 * query compares their cost per datagram without the batching a server falling behind gets.
 * The last line printed is {"berth_qps","dnsmasq_qps","ratio","berth_p99_ms"} (plus detail fields).
 */
import { execFile, spawn } from 'node:child_process';
import cluster from 'node:cluster';
import { readFileSync } from 'node:fs';
import dgram from 'node:dgram';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';
import { MemoryBackend } from '../src/state/index.ts';
import { Server } from '../src/server/index.ts';
import { instanceFromConsul } from '../src/discovery/catalog/index.ts';
import { silentLogger } from '../src/lib/index.ts';
import { freePort } from '../test/harness/berth.ts';

const { values } = parseArgs({ options: { services: { type: 'string' }, seconds: { type: 'string' }, rounds: { type: 'string' }, workers: { type: 'string' }, outstanding: { type: 'string' }, clients: { type: 'string' }, 'max-qps': { type: 'string' }, quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const SERVICES = Number(values.services ?? 50);
const SECONDS = Number(values.seconds ?? (quick ? 4 : 10));
const ROUNDS = Number(values.rounds ?? 3);
const WORKERS = Number(values.workers ?? 2);
/** dnsperf's queries in flight: enough that neither server waits on the load generator. */
const OUTSTANDING = Number(values.outstanding ?? 1000);
/** dnsperf's client sockets. */
const CLIENTS = Number(values.clients ?? 4);
/** dnsperf's rate cap (-Q); none when absent. */
const MAX_QPS = values['max-qps'] === undefined ? undefined : Number(values['max-qps']);
const log = (s: string): void => void process.stderr.write(s + '\n');

interface Run {
  qps: number;
  avgMs: number;
  lostPct: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU time the server's processes spent per answered query: what a busy machine does not hide. */
  cpuUsPerQuery: number;
}

/** A server under test: its DNS port and the processes that answer. */
interface Served {
  port: number;
  pids: number[];
  stop: () => Promise<void>;
}

/** User + system CPU of these processes so far, in microseconds (/proc ticks are 10 ms). */
function cpuUs(pids: number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * 10_000;
}

/** The names queried, one per service, and each service's addresses. */
const names = Array.from({ length: SERVICES }, (_, s) => `web${s}.service.berth`);
const addresses = (s: number): string[] => [1, 2, 3].map((i) => `10.77.${s % 250}.${i}`);

/** dnsperf against one server while the sampler measures latency; its figures. */
async function load({ port, pids }: Served, datafile: string): Promise<Run> {
  const cpuBefore = cpuUs(pids);
  const sampler = sample(port, names, SECONDS * 1000 - 500);
  const out = await new Promise<string>((resolve, reject) =>
    execFile('dnsperf', ['-s', '127.0.0.1', '-p', String(port), '-d', datafile, '-l', String(SECONDS), '-c', String(CLIENTS), '-q', String(OUTSTANDING), ...(MAX_QPS ? ['-Q', String(MAX_QPS)] : [])], { maxBuffer: 1 << 20 }, (err, stdout, stderr) =>
      err ? reject(new Error(`dnsperf failed: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  const cpu = cpuUs(pids) - cpuBefore;
  const { p50, p99 } = await sampler;
  return {
    qps: num(/Queries per second:\s+([\d.]+)/),
    avgMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
    lostPct: num(/Queries lost:\s+\d+ \(([\d.]+)%\)/),
    p50Ms: p50,
    p99Ms: p99,
    cpuUsPerQuery: cpu / num(/Queries completed:\s+(\d+)/),
  };
}

/** One query at a time for `ms`, 2 ms apart: latency percentiles under the dnsperf load. */
async function sample(port: number, qnames: string[], ms: number): Promise<{ p50: number; p99: number }> {
  await new Promise((r) => setTimeout(r, 300));
  const sock = dgram.createSocket('udp4');
  const rtts: number[] = [];
  const end = Date.now() + ms;
  let id = 0;
  while (Date.now() < end) {
    const q = dnsPacket.encode({ type: 'query', id: ++id & 0xffff, questions: [{ name: qnames[id % qnames.length], type: 'A' }] });
    const t0 = performance.now();
    const got = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => done(false), 1000);
      const onMsg = (m: Buffer): void => {
        if (m.readUInt16BE(0) === (id & 0xffff)) done(true);
      };
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        sock.off('message', onMsg);
        resolve(ok);
      };
      sock.on('message', onMsg);
      sock.send(q, port, '127.0.0.1');
    });
    if (got) rtts.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 2));
  }
  sock.close();
  rtts.sort((a, b) => a - b);
  const at = (p: number): number => rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

async function berthServer(): Promise<Served> {
  const port = await freePort();
  const server = await Server.start({
    backend: new MemoryBackend(),
    logger: silentLogger(),
    port: 0,
    discovery: { nodeName: 'bench', dns: { port, workers: WORKERS } },
  });
  const node = server.discovery.registry.node;
  for (let s = 0; s < SERVICES; s++) {
    for (const [i, address] of addresses(s).entries()) {
      await server.discovery.registry.register(instanceFromConsul({ ID: `web${s}-${i}`, Name: `web${s}`, Address: address, Port: 8000 + i }, node, Date.now()), true);
    }
  }
  // The DNS workers are this process's cluster workers (with no workers, this process answers).
  const pids = WORKERS > 0 ? Object.values(cluster.workers ?? {}).map((w) => w!.process.pid!) : [process.pid];
  return { port: server.discovery.dnsPort, pids, stop: () => server.stop() };
}

async function dnsmasq(): Promise<Served> {
  const port = await freePort();
  const records = names.flatMap((name, s) => addresses(s).map((a) => `--host-record=${name},${a}`));
  const child = spawn('dnsmasq', ['-k', '-C', '/dev/null', '--no-resolv', '--no-hosts', '--port', String(port), '--listen-address', '127.0.0.1', '--bind-interfaces', '--user=root', '--pid-file=', ...records], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err += d));
  await new Promise((r) => setTimeout(r, 500));
  if (child.exitCode !== null) throw new Error(`dnsmasq exited: ${err}`);
  return { port, pids: [child.pid!], stop: async () => void (child.kill(), await new Promise((r) => child.once('exit', r))) };
}

const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-dns-'));
const datafile = path.join(dir, 'queries.txt');
await writeFile(datafile, names.map((n) => `${n} A`).join('\n') + '\n');
try {
  log(`dns: ${SERVICES} services x 3 instances, dnsperf -c ${CLIENTS} -q ${OUTSTANDING} for ${SECONDS}s per turn, ${ROUNDS} rounds, berth on ${WORKERS} worker(s)`);
  const b = await berthServer();
  const d = await dnsmasq();
  const runs: { berth: Run[]; dnsmasq: Run[] } = { berth: [], dnsmasq: [] };
  const row = (name: string, r: Run): string =>
    `  ${name.padEnd(8)} ${Math.round(r.qps).toString().padStart(7)} q/s  mean ${r.avgMs.toFixed(2)} ms  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms  lost ${r.lostPct}%  cpu ${r.cpuUsPerQuery.toFixed(2)} us/query`;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      // Who goes first alternates, so neither always follows the other's load.
      const order: ['berth' | 'dnsmasq', Served][] = round % 2 === 0 ? [['berth', b], ['dnsmasq', d]] : [['dnsmasq', d], ['berth', b]];
      for (const [name, served] of order) {
        const r = await load(served, datafile);
        runs[name].push(r);
        log(`round ${round + 1}: ${row(name, r).trim()}`);
      }
    }
  } finally {
    await b.stop();
    await d.stop();
  }
  const median = (rs: Run[]): Run => [...rs].sort((x, y) => x.qps - y.qps)[Math.floor(rs.length / 2)];
  const berth = median(runs.berth);
  const peer = median(runs.dnsmasq);
  log('median rounds:');
  log(row('berth', berth));
  log(row('dnsmasq', peer));
  const ratio = berth.qps / peer.qps;
  const perRound = runs.berth.map((r, i) => r.qps / runs.dnsmasq[i].qps);
  log(`  ratio berth/dnsmasq: ${ratio.toFixed(2)}x (target >= 1.0x); per round ${perRound.map((x) => x.toFixed(2)).join(', ')}`);
  const r3 = (n: number): number => Math.round(n * 1000) / 1000;
  process.stdout.write(
    JSON.stringify({
      berth_qps: Math.round(berth.qps),
      dnsmasq_qps: Math.round(peer.qps),
      ratio: r3(ratio),
      berth_p99_ms: r3(berth.p99Ms),
      dnsmasq_p99_ms: r3(peer.p99Ms),
      berth_cpu_us_per_query: r3(berth.cpuUsPerQuery),
      dnsmasq_cpu_us_per_query: r3(peer.cpuUsPerQuery),
      load_average: Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]),
      round_ratios: perRound.map(r3),
      workers: WORKERS,
      seconds: SECONDS,
      rounds: ROUNDS,
      outstanding: OUTSTANDING,
      clients: CLIENTS,
      ...(MAX_QPS ? { max_qps: MAX_QPS } : {}),
    }) + '\n',
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
