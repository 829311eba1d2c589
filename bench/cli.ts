/**
 * bench/cli.ts: how fast the installed command starts, four ways side by side in one run, round by
 * round so that all see the same machine:
 *   floor      `node -e 0` on the same Node
 *   version    `berth version` (bin/berth.js, the build)
 *   status     `berth job status` against a running `berth dev` holding --jobs jobs
 *   dev start  `berth dev` in a fresh data dir (process driver) from spawn to its API answering
 * Each is timed --rounds times (one unmeasured run of each first); the medians count, and each
 * is also given as a ratio to the floor (targets: version 2.5x, status 4x, dev start 15x).
 * It runs bin/berth.js, so build first (`npm run build`; `npm ci` does).
 *
 *   npx tsx bench/cli.ts [--rounds 20] [--jobs 50] [--quick]
 * The last line printed is
 * {"floor_ms","version_ms","status_ms","dev_start_ms","version_ratio","status_ratio","dev_start_ratio"}.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { freePorts, startDev, type DevProcess } from '../test/harness/berth.ts';
import { BerthClient } from '../src/api/index.ts';
import type { Allocation } from '../src/model/index.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, jobs: { type: 'string' }, quick: { type: 'boolean' } } });
const ROUNDS = Number(values.rounds ?? (values.quick ? 5 : 20));
const JOBS = Number(values.jobs ?? 50);
const root = path.resolve(import.meta.dirname, '..');
const bin = path.join(root, 'bin/berth.js');
const log = (s: string): void => void process.stderr.write(s + '\n');
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

if (!existsSync(path.join(root, 'dist/main.js'))) {
  log('bench/cli.ts times the build: run `npm run build` first.');
  process.exit(1);
}

/** Milliseconds from spawn to exit of `node args`; a failed run fails the benchmark. */
function timeRun(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd: root, env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`node ${args.join(' ')} exited ${code}: ${stderr}`))));
  });
}

/** Milliseconds from spawning `berth dev` in a fresh data dir to its HTTP API answering. */
async function devStartOnce(): Promise<number> {
  const dataDir = await mkdtemp(path.join(tmpdir(), 'berth-bench-cli-'));
  const [port, dnsPort] = await freePorts(2);
  const t0 = performance.now();
  const child = spawn(process.execPath, [bin, 'dev', '--data-dir', dataDir, '--http-addr', `127.0.0.1:${port}`, '--dns-addr', `127.0.0.1:${dnsPort}`, '--driver', 'process', '--log-level', 'warn'], {
    cwd: root,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d));
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  try {
    for (const deadline = t0 + 30_000; performance.now() < deadline; await sleep(2)) {
      if (child.exitCode !== null) throw new Error(`berth dev exited with ${child.exitCode} before its API answered: ${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/v1/status/leader`).then((r) => r.ok, () => false);
      if (ok) return performance.now() - t0;
    }
    throw new Error('berth dev did not answer within 30 s');
  } finally {
    child.kill('SIGTERM');
    await exited;
    await rm(dataDir, { recursive: true, force: true });
  }
}

/** How many of the server's allocations run. */
async function runningAllocs(addr: string): Promise<number> {
  const allocs = (await (await fetch(`${addr}/v1/allocations`)).json()) as Allocation[];
  return allocs.filter((a) => a.clientStatus === 'running').length;
}

/** A `berth dev` holding `n` service jobs, one `sleep` process each, all running. */
async function devWithJobs(n: number): Promise<DevProcess> {
  const [port, dnsPort] = await freePorts(2);
  const dev = await startDev({ driver: 'process', port, args: ['--dns-addr', `127.0.0.1:${dnsPort}`] });
  const client = new BerthClient({ address: dev.addr });
  for (let i = 0; i < n; i++) {
    const task = { name: 't', driver: 'process', config: { command: '/bin/sleep', args: ['3600'] }, resources: { cpu: '10m', memory: '8Mi' }, kill_timeout: '1s' };
    await client.registerJob({ id: `bench-${i}`, groups: [{ name: 'g', tasks: [task] }] }, 'json');
  }
  for (const deadline = Date.now() + 60_000; ; await sleep(200)) {
    const running = await runningAllocs(dev.addr);
    if (running >= n) return dev;
    if (Date.now() > deadline) throw new Error(`only ${running} of ${n} jobs running after 60 s`);
  }
}

/** Stop every job (their processes outlive the agent otherwise), then the dev process. */
async function stopDev(dev: DevProcess, n: number): Promise<void> {
  const client = new BerthClient({ address: dev.addr });
  for (let i = 0; i < n; i++) await client.stopJob(`bench-${i}`, true).catch(() => undefined);
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(200)) {
    if ((await runningAllocs(dev.addr)) === 0) break;
  }
  await dev.cleanup();
}

log(`node ${process.version} (${process.execPath}); ${ROUNDS} rounds; ${JOBS} jobs; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const dev = await devWithJobs(JOBS);
const statusEnv = { ...process.env, BERTH_ADDR: dev.addr };
const ways = {
  floor: () => timeRun(['-e', '0']),
  version: () => timeRun([bin, 'version']),
  status: () => timeRun([bin, 'job', 'status'], statusEnv),
  devStart: devStartOnce,
};
const times: Record<keyof typeof ways, number[]> = { floor: [], version: [], status: [], devStart: [] };
try {
  for (const run of Object.values(ways)) await run();
  for (let r = 0; r < ROUNDS; r++) for (const [name, run] of Object.entries(ways)) times[name as keyof typeof ways].push(await run());
} finally {
  await stopDev(dev, JOBS);
}

const m = { floor: median(times.floor), version: median(times.version), status: median(times.status), devStart: median(times.devStart) };
const ratio = (x: number): number => Number((x / m.floor).toFixed(2));
log(`floor (node -e 0)      ${m.floor.toFixed(0)} ms`);
log(`berth version          ${m.version.toFixed(0)} ms  ${ratio(m.version)}x floor (target 2.5x)`);
log(`berth job status       ${m.status.toFixed(0)} ms  ${ratio(m.status)}x floor (target 4x; ${JOBS} jobs)`);
log(`berth dev to API       ${m.devStart.toFixed(0)} ms  ${ratio(m.devStart)}x floor (target 15x)`);
log(`load average after     ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
console.log(
  JSON.stringify({
    floor_ms: Math.round(m.floor),
    version_ms: Math.round(m.version),
    status_ms: Math.round(m.status),
    dev_start_ms: Math.round(m.devStart),
    version_ratio: ratio(m.version),
    status_ratio: ratio(m.status),
    dev_start_ratio: ratio(m.devStart),
  }),
);
