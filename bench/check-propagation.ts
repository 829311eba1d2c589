/**
 * bench/check-propagation.ts: how long from a health check starting to fail to the instance being
 * gone from DNS, over many flips. A berth server and agent run in this process (memory state,
 * process driver); one task runs busybox httpd with an http check every INTERVAL ms. A flip
 * removes the file the check fetches (404: critical) and polls berth's DNS (SRV, raw UDP, every
 * millisecond) until the instance's port is gone; then the file comes back and the bench waits
 * for the instance to return before the next flip. The time includes the wait for the next check
 * run (up to one interval), the agent's report, the catalog write and the DNS answer.
 *
 *   npx tsx bench/check-propagation.ts [--flips 100] [--interval 200] [--quick]
 * The last line printed is {"flips","p50_ms","p99_ms","interval_ms"}.
 */
import dgram from 'node:dgram';
import { mkdir, mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import dnsPacket from 'dns-packet';
import { MemoryBackend } from '../src/state/index.ts';
import { Server } from '../src/server/index.ts';
import { Agent } from '../src/agent/index.ts';
import { BerthClient } from '../src/api/index.ts';
import { ProcessDriver } from '../src/drivers/index.ts';
import { silentLogger } from '../src/lib/index.ts';
import { freePort } from '../test/harness/berth.ts';

const { values } = parseArgs({ options: { flips: { type: 'string' }, interval: { type: 'string' }, quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const FLIPS = Number(values.flips ?? (quick ? 20 : 100));
const INTERVAL = Number(values.interval ?? 200);
const log = (s: string): void => void process.stderr.write(s + '\n');

const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-flip-'));
const www = path.join(dir, 'www');
const health = path.join(www, 'health');
await mkdir(www);
await writeFile(health, 'ok\n');

const dnsPort = await freePort();
const server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0, discovery: { nodeName: 'bench', dns: { port: dnsPort } } });
const agent = await Agent.start({ serverUrl: server.url, dataDir: path.join(dir, 'agent'), logger: silentLogger(), nodeName: 'bench', drivers: [new ProcessDriver({ cgroupRoot: false })], defaultDriver: 'process' });
const sock = dgram.createSocket('udp4');

/** The ports the SRV answer of `flip.service.berth` lists now. */
let queryId = 0;
function srvPorts(): Promise<number[]> {
  const id = ++queryId & 0xffff;
  const q = dnsPacket.encode({ type: 'query', id, questions: [{ name: 'flip.service.berth', type: 'SRV' }] });
  return new Promise((resolve) => {
    const timer = setTimeout(() => done([]), 500);
    const onMsg = (m: Buffer): void => {
      if (m.readUInt16BE(0) !== id) return;
      const p = dnsPacket.decode(m);
      done((p.answers ?? []).filter((a) => a.type === 'SRV').map((a) => (a.data as { port: number }).port));
    };
    const done = (ports: number[]): void => {
      clearTimeout(timer);
      sock.off('message', onMsg);
      resolve(ports);
    };
    sock.on('message', onMsg);
    sock.send(q, dnsPort, '127.0.0.1');
  });
}

async function until(what: string, test: () => Promise<boolean>, timeoutMs = 10_000, everyMs = 1): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > end) throw new Error(`Cannot finish the bench: timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

try {
  const spec = {
    id: 'flip',
    groups: [
      {
        name: 'g',
        ports: [{ label: 'http' }],
        services: [{ name: 'flip', port: 'http', checks: [{ type: 'http', path: '/health', interval: `${INTERVAL}ms`, timeout: '500ms' }] }],
        tasks: [{ name: 'httpd', driver: 'process', config: { command: '/usr/bin/busybox', args: ['httpd', '-f', '-p', '${BERTH_PORT_http}', '-h', www] } }],
      },
    ],
  };
  await new BerthClient({ address: server.url }).registerJob(spec, 'json');
  await until('the instance in DNS', async () => (await srvPorts()).length === 1, 30_000, 20);
  const [port] = await srvPorts();
  log(`check-propagation: ${FLIPS} flips, http check every ${INTERVAL} ms, instance on port ${port}`);
  const times: number[] = [];
  for (let i = 0; i < FLIPS; i++) {
    // Start at a random point of the check's cycle, as a real failure would.
    await new Promise((r) => setTimeout(r, Math.random() * INTERVAL));
    await unlink(health);
    const t0 = performance.now();
    await until('the instance to leave DNS', async () => !(await srvPorts()).includes(port));
    times.push(performance.now() - t0);
    await writeFile(health, 'ok\n');
    await until('the instance to come back', async () => (await srvPorts()).includes(port), 10_000, 5);
  }
  times.sort((a, b) => a - b);
  const at = (p: number): number => Math.round(times[Math.min(times.length - 1, Math.floor(p * times.length))] * 10) / 10;
  const mean = times.reduce((a, b) => a + b, 0) / times.length;
  log(`  failure to out of DNS: p50 ${at(0.5)} ms, p99 ${at(0.99)} ms, mean ${mean.toFixed(1)} ms, max ${at(1)} ms (interval ${INTERVAL} ms; bound interval + 100 ms)`);
  process.stdout.write(JSON.stringify({ flips: FLIPS, p50_ms: at(0.5), p99_ms: at(0.99), interval_ms: INTERVAL }) + '\n');
} finally {
  sock.close();
  await agent.stop({ stopTasks: true });
  await server.stop();
  await rm(dir, { recursive: true, force: true });
}
