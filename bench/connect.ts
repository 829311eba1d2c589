/**
 * bench/connect.ts: the proxy layer's data path against going direct and against HAProxy, in one
 * run, taking turns:
 *   tcp      8 streams of bytes, a Node sender to a Node sink, straight to the sink vs through a
 *            ServiceListener: throughput (MB/s)
 *   http     wrk, 64 keep-alive connections, against nginx straight vs through a ServiceListener:
 *            req/s; latency added: one request at a time on a keep-alive connection each way, in
 *            pairs, p99 through the listener less p99 direct
 *   ingress  wrk, 64 keep-alive connections with `Host: app.test`, through berth's two ingress
 *            data paths, the built-in IngressRouter and HAProxy driven by berth (the agent's
 *            HaproxyIngress: its generated configuration, server slots set through the runtime
 *            API), vs plain HAProxy (Debian's haproxy, a hand-written configuration), all three
 *            routing by Host to the same two nginx backends, round robin, keep-alive to the
 *            backends, the same timeouts; req/s and p99
 * The backend is nginx (one process: `return 200`), the load generator wrk (C, its own threads),
 * so that neither is the bottleneck the way busybox httpd or a Node client would be. berth's
 * listeners and ingress run in one child process of their own (this script with `--role proxy`),
 * both HAProxys with one thread (`nbthread 1`): one core each, since Node's event loop is one thread.
 * Each turn also measures the CPU the proxy process spent per request (or per MB), from /proc.
 *
 * Every pair of sides is up for the whole run and takes turns, round after round, so that a
 * change in what else the machine does hits both alike; each side's figure is its median round.
 *
 *   npx tsx bench/connect.ts [--seconds 10] [--rounds 3] [--quick]
 * The last line printed is {"tcp_ratio","http_ratio","added_p99_ms","ingress_ratio","ingress_p99_ratio"}
 * (plus detail fields); ingress_ratio and ingress_p99_ratio are those of the better of berth's two
 * ingress paths (named in ingress_path), ingress_builtin_* and ingress_berth_haproxy_* each one's. Targets: tcp >= 0.8, http >= 0.7, added p99 <= 1 ms, ingress >= 0.8,
 * ingress p99 <= 1.5.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { IngressRouter, ServiceListener } from '../src/proxy/index.ts';
import { HaproxyIngress } from '../src/agent/index.ts';
import { silentLogger } from '../src/lib/index.ts';
import { freePorts } from '../test/harness/berth.ts';

const { values } = parseArgs({ options: { seconds: { type: 'string' }, rounds: { type: 'string' }, quick: { type: 'boolean' }, role: { type: 'string' }, config: { type: 'string' } } });
const quick = values.quick ?? false;
const SECONDS = Number(values.seconds ?? (quick ? 2 : 10));
const ROUNDS = Number(values.rounds ?? (quick ? 2 : 3));
const HOST = '127.0.0.1';
const log = (s: string): void => void process.stderr.write(s + '\n');

/** What the proxy child is told: where the sink and the nginx backends listen. */
interface ProxyConfig {
  sinkPort: number;
  nginxPorts: number[];
}

/** What the proxy child answers: where its listeners and ingress listen. */
interface ProxyPorts {
  tcp: number;
  http: number;
  ingress: number;
}

/** User + system CPU of a process so far, in microseconds (/proc ticks are 10 ms). */
function cpuUs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10_000;
}

function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

function run(file: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(file, args, { maxBuffer: 1 << 20 }, (err, stdout, stderr) => (err ? reject(new Error(`${file} failed: ${err.message}\n${stderr}`)) : resolve(stdout))),
  );
}

/** A child that must stay up for the run; rejects its start if it exits early. */
async function daemon(file: string, args: string[], name: string): Promise<ChildProcess> {
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err += d));
  child.once('exit', (code) => {
    if (!stopping) log(`${name} exited (${code}): ${err}`);
  });
  return child;
}
let stopping = false;

async function waitForPort(port: number, name: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, HOST, () => (s.destroy(), resolve(true)));
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} did not listen on ${HOST}:${port} within 5 s`);
}

/** A wrk run's rate and latency percentiles (from --latency). */
interface WrkRun {
  rps: number;
  p50Ms: number;
  p99Ms: number;
  requests: number;
  errors: number;
}

function parseWrk(out: string): WrkRun {
  const toMs = (value: string, unit: string): number => Number(value) * ({ us: 0.001, ms: 1, s: 1000 }[unit] ?? NaN);
  const pct = (p: string): number => {
    const m = new RegExp(`^\\s+${p}%\\s+([\\d.]+)(us|ms|s)\\s*$`, 'm').exec(out);
    return m ? toMs(m[1], m[2]) : NaN;
  };
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? NaN);
  const errors = /Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? '0';
  const socketErrors = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? NaN),
    p50Ms: pct('50'),
    p99Ms: pct('99'),
    requests,
    errors: Number(errors) + (socketErrors ? socketErrors.slice(1).reduce((a, b) => a + Number(b), 0) : 0),
  };
}

async function wrk(port: number, connections: number, seconds: number, host?: string): Promise<WrkRun> {
  const threads = Math.min(2, connections);
  const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency', ...(host ? ['-H', `Host: ${host}`] : []), `http://${HOST}:${port}/`];
  return parseWrk(await run('wrk', args));
}

/** The TCP sender: 8 streams writing 256 KiB chunks as fast as the socket drains, for `seconds`; prints bytes written. */
const SENDER = `
const net = require('node:net');
const [port, seconds, streams] = process.argv.slice(1).map(Number);
// Each chunk written is counted; the few MB still in socket buffers at the end are noise next to the total.
const chunk = Buffer.alloc(256 * 1024, 120);
let bytes = 0; let open = 0; const end = Date.now() + seconds * 1000;
for (let i = 0; i < streams; i++) {
  const s = net.connect(port, '127.0.0.1'); open++;
  const pump = () => { while (Date.now() < end) { bytes += chunk.length; if (!s.write(chunk)) return; } s.destroy(); };
  s.on('connect', pump); s.on('drain', pump); s.on('error', (e) => { console.error(e.message); process.exit(1); });
  s.on('close', () => { if (--open === 0) console.log(bytes); });
}`;

/** The TCP sink: reads and drops everything. */
const SINK = `
const net = require('node:net');
net.createServer((s) => { s.on('data', () => {}); s.on('error', () => {}); }).listen(Number(process.argv[1]), '127.0.0.1');`;

async function tcpTurn(port: number, proxyPid: number | undefined): Promise<{ mbps: number; cpuUsPerMb: number }> {
  const cpu0 = proxyPid ? cpuUs(proxyPid) : 0;
  const t0 = performance.now();
  const bytes = Number((await run(process.execPath, ['-e', SENDER, String(port), String(SECONDS), '8'])).trim());
  const seconds = (performance.now() - t0) / 1000;
  const mb = bytes / 1e6;
  return { mbps: mb / seconds, cpuUsPerMb: proxyPid ? (cpuUs(proxyPid) - cpu0) / mb : 0 };
}

/**
 * The latency one request adds through the listener when the machine is not loaded by the bench:
 * one keep-alive connection straight to nginx and one through the listener, a request on each in
 * turn (the order alternating), a millisecond apart, for `seconds`. Taking the pairs together lets
 * the two sides see the same moments of a busy machine; wrk's p99 under a 64-connection load is
 * mostly queueing and is reported apart (http_64c_p99_added_ms).
 */
async function latencyPairs(directPort: number, proxiedPort: number, seconds: number): Promise<{ direct: Percentiles; listener: Percentiles; pairs: number }> {
  const direct = await rawClient(directPort);
  const proxied = await rawClient(proxiedPort);
  const times = { direct: [] as number[], listener: [] as number[] };
  const end = Date.now() + seconds * 1000;
  for (let i = 0; Date.now() < end; i++) {
    const order: ['direct' | 'listener', RawClient][] = i % 2 === 0 ? [['direct', direct], ['listener', proxied]] : [['listener', proxied], ['direct', direct]];
    for (const [side, client] of order) times[side].push(await client.roundTrip());
    await new Promise((r) => setTimeout(r, 1));
  }
  direct.close();
  proxied.close();
  return { direct: percentiles(times.direct), listener: percentiles(times.listener), pairs: times.direct.length };
}

interface Percentiles {
  p50: number;
  p99: number;
}

function percentiles(samples: number[]): Percentiles {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99) };
}

interface RawClient {
  /** One GET on the kept-alive connection; milliseconds until the whole answer is in. */
  roundTrip(): Promise<number>;
  close(): void;
}

/** A keep-alive HTTP/1.1 client on a raw socket, for nginx's fixed `ok` answer: no client library's own latency in the figure. */
async function rawClient(port: number): Promise<RawClient> {
  const socket = net.connect(port, HOST);
  socket.setNoDelay(true);
  await once(socket, 'connect');
  socket.setEncoding('latin1');
  return {
    roundTrip: () =>
      new Promise((resolve, reject) => {
        let got = '';
        const t0 = performance.now();
        const onData = (d: string): void => {
          got += d;
          if (!got.endsWith('\r\n\r\nok\n')) return;
          socket.off('data', onData);
          socket.off('close', onClose);
          resolve(performance.now() - t0);
        };
        const onClose = (): void => reject(new Error(`connection to ${port} closed mid-answer`));
        socket.on('data', onData);
        socket.once('close', onClose);
        socket.write('GET / HTTP/1.1\r\nHost: app.test\r\n\r\n');
      }),
    close: () => socket.destroy(),
  };
}

interface HttpTurn extends WrkRun {
  /** CPU the proxy process spent per request, in microseconds (0 when there is none). */
  cpuUsPerRequest: number;
}

async function httpTurn(port: number, pid: number | undefined, connections: number, seconds: number, host?: string): Promise<HttpTurn> {
  const cpu0 = pid ? cpuUs(pid) : 0;
  const r = await wrk(port, connections, seconds, host);
  return { ...r, cpuUsPerRequest: pid ? (cpuUs(pid) - cpu0) / r.requests : 0 };
}

function median<T>(runs: T[], key: (t: T) => number): T {
  return [...runs].sort((a, b) => key(a) - key(b))[Math.floor(runs.length / 2)];
}

/** Run each side once a round, the order alternating, for ROUNDS rounds. */
async function takeTurns<T>(name: string, sides: [string, () => Promise<T>][], show: (t: T) => string): Promise<Record<string, T[]>> {
  const out: Record<string, T[]> = Object.fromEntries(sides.map(([n]) => [n, []]));
  for (let round = 0; round < ROUNDS; round++) {
    const order = round % 2 === 0 ? sides : [...sides].reverse();
    for (const [side, turn] of order) {
      const r = await turn();
      out[side].push(r);
      log(`${name} round ${round + 1} ${side.padEnd(13)} ${show(r)}`);
    }
  }
  return out;
}

function haproxyConfig(port: number, nginxPorts: number[]): string {
  return `global
  nbthread 1
  maxconn 4096
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-request 60s
  timeout http-keep-alive 60s
frontend ingress
  bind ${HOST}:${port}
  option forwardfor
  http-request set-header X-Forwarded-Proto http
  http-request set-header X-Forwarded-Host %[req.hdr(host)]
  use_backend web if { hdr(host) -i app.test }
backend web
  balance roundrobin
${nginxPorts.map((p, i) => `  server nginx-${i} ${HOST}:${p}`).join('\n')}
`;
}

function nginxConfig(dir: string, ports: number[]): string {
  return `worker_processes 1;
daemon off;
master_process off;
pid ${dir}/nginx.pid;
error_log ${dir}/nginx-error.log;
events { worker_connections 4096; }
http {
  access_log off;
  keepalive_requests 100000000;
  keepalive_timeout 75s;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
${ports.map((p) => `  server { listen ${HOST}:${p}; location / { default_type text/plain; return 200 "ok\\n"; } }`).join('\n')}
}
`;
}

async function main(): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-connect-'));
  const children: ChildProcess[] = [];
  const load0 = loadAverage();
  let berthHaproxy: HaproxyIngress | undefined;
  try {
    const [sinkPort, nginxA, nginxB, haproxyPort, berthHaproxyPort] = await freePorts(5);
    const nginxPorts = [nginxA, nginxB];
    log(`connect: ${SECONDS}s per turn, ${ROUNDS} rounds; backend nginx (1 process), load generator wrk; load average ${load0}`);

    await writeFile(path.join(dir, 'nginx.conf'), nginxConfig(dir, nginxPorts));
    children.push(await daemon('nginx', ['-p', dir, '-e', path.join(dir, 'nginx-error.log'), '-c', path.join(dir, 'nginx.conf')], 'nginx'));
    await writeFile(path.join(dir, 'haproxy.cfg'), haproxyConfig(haproxyPort, nginxPorts));
    const haproxy = await daemon('haproxy', ['-db', '-f', path.join(dir, 'haproxy.cfg')], 'haproxy');
    children.push(haproxy);
    children.push(await daemon(process.execPath, ['-e', SINK, String(sinkPort)], 'sink'));
    const config: ProxyConfig = { sinkPort, nginxPorts };
    const proxy = spawn(process.execPath, ['--import', 'tsx', import.meta.filename, '--role', 'proxy', '--config', JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(proxy);
    const [line] = (await once(readline.createInterface({ input: proxy.stdout! }), 'line')) as [string];
    const ports = JSON.parse(line) as ProxyPorts;
    for (const [port, name] of [[nginxA, 'nginx'], [nginxB, 'nginx'], [haproxyPort, 'haproxy'], [sinkPort, 'sink']] as const) await waitForPort(port, name);
    const proxyPid = proxy.pid!;
    const haproxyPid = haproxy.pid!;
    berthHaproxy = await startBerthHaproxy(dir, berthHaproxyPort, nginxPorts);
    const berthHaproxyPid = (await berthHaproxy.workerPid())!;

    const mb = (r: { mbps: number; cpuUsPerMb: number }): string => `${Math.round(r.mbps)} MB/s${r.cpuUsPerMb ? `  proxy cpu ${Math.round(r.cpuUsPerMb)} us/MB` : ''}`;
    const req = (r: HttpTurn): string =>
      `${Math.round(r.rps)} req/s  p50 ${r.p50Ms.toFixed(2)} ms  p99 ${r.p99Ms.toFixed(2)} ms${r.errors ? `  errors ${r.errors}` : ''}${r.cpuUsPerRequest ? `  proxy cpu ${r.cpuUsPerRequest.toFixed(1)} us/req` : ''}`;

    // Warm-up, not measured: the JIT compiles the proxy's hot paths and the keep-alive pools fill.
    await Promise.all([wrk(ports.http, 64, 1), wrk(ports.ingress, 64, 1, 'app.test'), wrk(haproxyPort, 64, 1, 'app.test'), wrk(berthHaproxyPort, 64, 1, 'app.test')]);
    await run(process.execPath, ['-e', SENDER, String(ports.tcp), '1', '8']);
    const tcp = await takeTurns('tcp', [['direct', () => tcpTurn(sinkPort, undefined)], ['listener', () => tcpTurn(ports.tcp, proxyPid)]], mb);
    const http = await takeTurns('http', [['direct', () => httpTurn(nginxA, undefined, 64, SECONDS)], ['listener', () => httpTurn(ports.http, proxyPid, 64, SECONDS)]], req);
    const latency = await latencyPairs(nginxA, ports.http, SECONDS * ROUNDS);
    log(`latency  direct p50 ${latency.direct.p50.toFixed(3)} ms p99 ${latency.direct.p99.toFixed(3)} ms; listener p50 ${latency.listener.p50.toFixed(3)} ms p99 ${latency.listener.p99.toFixed(3)} ms (${latency.pairs} pairs)`);
    const ingress = await takeTurns(
      'ingress',
      [
        ['builtin', () => httpTurn(ports.ingress, proxyPid, 64, SECONDS, 'app.test')],
        ['berth-haproxy', () => httpTurn(berthHaproxyPort, berthHaproxyPid, 64, SECONDS, 'app.test')],
        ['haproxy', () => httpTurn(haproxyPort, haproxyPid, 64, SECONDS, 'app.test')],
      ],
      req,
    );

    const tcpD = median(tcp.direct, (r) => r.mbps);
    const tcpL = median(tcp.listener, (r) => r.mbps);
    const httpD = median(http.direct, (r) => r.rps);
    const httpL = median(http.listener, (r) => r.rps);
    const ingB = median(ingress.builtin, (r) => r.rps);
    const ingBH = median(ingress['berth-haproxy'], (r) => r.rps);
    const ingH = median(ingress.haproxy, (r) => r.rps);
    const best = ingBH.rps > ingB.rps ? { path: 'haproxy', run: ingBH } : { path: 'builtin', run: ingB };
    const errors = [...http.direct, ...http.listener, ...ingress.builtin, ...ingress['berth-haproxy'], ...ingress.haproxy].reduce((a, r) => a + r.errors, 0);

    const r3 = (n: number): number => Math.round(n * 1000) / 1000;
    const result = {
      tcp_ratio: r3(tcpL.mbps / tcpD.mbps),
      http_ratio: r3(httpL.rps / httpD.rps),
      added_p99_ms: r3(latency.listener.p99 - latency.direct.p99),
      ingress_ratio: r3(best.run.rps / ingH.rps),
      ingress_p99_ratio: r3(best.run.p99Ms / ingH.p99Ms),
      ingress_path: best.path,
      ingress_builtin_ratio: r3(ingB.rps / ingH.rps),
      ingress_builtin_p99_ratio: r3(ingB.p99Ms / ingH.p99Ms),
      ingress_berth_haproxy_ratio: r3(ingBH.rps / ingH.rps),
      ingress_berth_haproxy_p99_ratio: r3(ingBH.p99Ms / ingH.p99Ms),
      tcp_direct_mbps: Math.round(tcpD.mbps),
      tcp_listener_mbps: Math.round(tcpL.mbps),
      tcp_listener_cpu_us_per_mb: Math.round(tcpL.cpuUsPerMb),
      http_direct_rps: Math.round(httpD.rps),
      http_listener_rps: Math.round(httpL.rps),
      http_listener_cpu_us_per_req: r3(httpL.cpuUsPerRequest),
      http_64c_p99_added_ms: r3(httpL.p99Ms - httpD.p99Ms),
      latency_p50_direct_ms: r3(latency.direct.p50),
      latency_p50_listener_ms: r3(latency.listener.p50),
      latency_p99_direct_ms: r3(latency.direct.p99),
      latency_p99_listener_ms: r3(latency.listener.p99),
      latency_pairs: latency.pairs,
      ingress_builtin_rps: Math.round(ingB.rps),
      ingress_berth_haproxy_rps: Math.round(ingBH.rps),
      ingress_haproxy_rps: Math.round(ingH.rps),
      ingress_builtin_p99_ms: r3(ingB.p99Ms),
      ingress_berth_haproxy_p99_ms: r3(ingBH.p99Ms),
      ingress_haproxy_p99_ms: r3(ingH.p99Ms),
      ingress_builtin_cpu_us_per_req: r3(ingB.cpuUsPerRequest),
      ingress_berth_haproxy_cpu_us_per_req: r3(ingBH.cpuUsPerRequest),
      ingress_haproxy_cpu_us_per_req: r3(ingH.cpuUsPerRequest),
      http_errors: errors,
      load_average_start: load0,
      load_average_end: loadAverage(),
      seconds: SECONDS,
      rounds: ROUNDS,
    };
    log('targets: tcp >= 0.8x direct, http >= 0.7x, added p99 <= 1 ms, ingress >= 0.8x haproxy, ingress p99 <= 1.5x');
    log(`ingress vs plain haproxy: builtin ${result.ingress_builtin_ratio}x (p99 ${result.ingress_builtin_p99_ratio}x), berth-driven haproxy ${result.ingress_berth_haproxy_ratio}x (p99 ${result.ingress_berth_haproxy_p99_ratio}x)`);
    log(`medians: tcp ${result.tcp_ratio}x, http ${result.http_ratio}x, added p99 ${result.added_p99_ms} ms, ingress ${result.ingress_ratio}x (${best.path}), ingress p99 ${result.ingress_p99_ratio}x; load average ${load0} -> ${result.load_average_end} (2 shared cores)`);
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    stopping = true;
    await berthHaproxy?.close();
    for (const child of children) {
      child.stdin?.end();
      child.kill();
    }
    await rm(dir, { recursive: true, force: true });
  }
}

/** HAProxy as the agent drives it (`berth agent --ingress-proxy haproxy`), routing app.test to the nginx backends. */
async function startBerthHaproxy(dir: string, port: number, nginxPorts: number[]): Promise<HaproxyIngress> {
  const ingress = new HaproxyIngress({ addresses: [{ host: HOST, port }], dir: path.join(dir, 'berth-haproxy'), logger: silentLogger(), threads: 1 });
  await ingress.start();
  const endpoints = nginxPorts.map((p, i) => ({ id: `nginx-${i}`, host: HOST, port: p }));
  await ingress.apply({ http: [{ service: 'web', host: 'app.test', pathPrefix: '/' }], tcp: [], endpoints: new Map([['web', endpoints]]) });
  await waitForPort(port, 'berth-driven haproxy');
  return ingress;
}

/** The child: berth's data path, on its own process, as the agent will run it. */
async function serveProxy(): Promise<void> {
  const config = JSON.parse(values.config!) as ProxyConfig;
  const nginx = config.nginxPorts.map((port, i) => ({ id: `nginx-${i}`, host: HOST, port }));
  const tcp = new ServiceListener({ host: HOST });
  tcp.setEndpoints([{ id: 'sink', host: HOST, port: config.sinkPort }]);
  const http = new ServiceListener({ host: HOST });
  http.setEndpoints(nginx);
  const ingress = new IngressRouter({ host: HOST, requestTimeoutMs: 60_000, idleTimeoutMs: 60_000, connectTimeoutMs: 5000 });
  ingress.setRoutes([{ service: 'web', host: 'app.test' }]);
  ingress.setEndpoints('web', nginx);
  const ports: ProxyPorts = { tcp: (await tcp.listen()).port, http: (await http.listen()).port, ingress: (await ingress.listen()).port };
  process.stdout.write(JSON.stringify(ports) + '\n');
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
  // A clean exit on a signal, so that --cpu-prof gets written when profiling the child.
  process.on('SIGTERM', () => process.exit(0));
}

if (values.role === 'proxy') await serveProxy();
else await main();
