/**
 * bench/soak.ts: churn against a real `berth server` (SQLite) and `berth agent` (process driver,
 * a sleeping process per task) for a long while (issue 19, item 4):
 *   churn   10 job ids, each step one of: register a new job or version (1-3 replicas),
 *           scale, stop, stop with purge; plus KV writes (PUT and DELETE over 200 keys)
 *   sample  every 30 s: the server's and the agent's RSS and open fds (/proc/PID/fd), the
 *           state's rows (berth_state_rows from /v1/metrics) and the SQLite file with its WAL
 *   judge   after warm-up (quick: 90 s, full: 5 min) every sample stays within +10% of the
 *           first sample after warm-up; at the end (every job purged, the churn stopped) no task
 *           process is left, and neither process holds more fds than at that first sample
 * The server runs with GC thresholds of 1 minute (`--eval-gc-threshold`, `--job-gc-threshold`,
 * `--deployment-gc-threshold`, `--gc-interval 30s`): with the defaults (1 h, 4 h) state is
 * meant to grow for hours, so a 3- or 30-minute soak would measure only that design.
 * --quick: 3 minutes (full: 30).
 *
 *   npx tsx bench/soak.ts [--quick] [--minutes N] [--warmup SECONDS]
 * The last line printed is JSON with every sample and the verdicts.
 */
import { statSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BerthClient } from '../src/api/index.ts';
import { startAgent, startServer } from '../test/harness/cluster.ts';
import { berthPid, markedProcesses, openFds, rssBytes } from '../test/harness/storm.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, minutes: { type: 'string' }, warmup: { type: 'string' } } });
const MINUTES = Number(values.minutes ?? (values.quick ? 3 : 30));
const WARMUP_MS = values.warmup ? Number(values.warmup) * 1000 : values.quick ? 90_000 : 300_000;
const SAMPLE_MS = 30_000;
const MARK = `soak-${process.pid}`;
const JOB_IDS = 10;
const KEYS = 200;
const log = (s: string): void => void process.stderr.write(s + '\n');

interface Sample {
  t_s: number;
  server_rss_mb: number;
  agent_rss_mb: number;
  server_fds: number;
  agent_fds: number;
  state_rows: number;
  sqlite_mb: number;
  task_processes: number;
  /** V8 heap in use (after the last GC, as prom-client reads it): says whether RSS growth is the JS heap. */
  server_heap_mb: number;
  agent_heap_mb: number;
  /** The agent's heap reserved, and memory outside it (Buffers): where its RSS goes. */
  agent_heap_total_mb: number;
  agent_external_mb: number;
}

function spec(j: number, version: number, count: number): object {
  return {
    id: `soak-${j}`,
    type: 'service',
    update: { max_parallel: 2, health_check: 'task_states', min_healthy_time: '0s' },
    groups: [
      {
        name: 'g',
        count,
        tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sleep', args: ['3600'] }, env: { STORM_MARK: MARK, V: String(version) }, resources: { cpu: '10m', memory: '4Mi' }, kill_timeout: '1s' }],
      },
    ],
  };
}

/** One churn step on a random job id. */
async function churnStep(client: BerthClient, versions: number[]): Promise<string> {
  const j = Math.floor(Math.random() * JOB_IDS);
  const roll = Math.random();
  const count = 1 + Math.floor(Math.random() * 3);
  if (roll < 0.45) {
    versions[j]++;
    await client.registerJob(spec(j, versions[j], count), 'json');
    return 'register';
  }
  if (roll < 0.7) {
    await client.scaleJob(`soak-${j}`, 'g', count).catch(() => undefined);
    return 'scale';
  }
  await client.stopJob(`soak-${j}`, roll > 0.85).catch(() => undefined);
  return roll > 0.85 ? 'purge' : 'stop';
}

/** KV writes: a PUT or DELETE of one of KEYS keys. */
async function kvStep(addr: string): Promise<void> {
  const key = `soak/k${Math.floor(Math.random() * KEYS)}`;
  const put = Math.random() < 0.8;
  const res = await fetch(`${addr}/v1/kv/${key}`, { method: put ? 'PUT' : 'DELETE', body: put ? 'x'.repeat(100 + Math.floor(Math.random() * 900)) : undefined });
  await res.arrayBuffer();
}

/** The sum of the samples of `metric` (with or without labels) in the metrics page at `url`. */
async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(url)).text();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `))
    .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
}

function fileMb(file: string): number {
  try {
    return statSync(file).size / 2 ** 20;
  } catch {
    return 0;
  }
}

const mb = (b: number): number => Math.round((b / 2 ** 20) * 10) / 10;

/** Run churn and KV writes until `stop()`; counts what was done. */
async function churn(client: BerthClient, addr: string, stop: () => boolean): Promise<Record<string, number>> {
  const counts: Record<string, number> = { kv: 0, errors: 0 };
  const versions = Array.from({ length: JOB_IDS }, () => 0);
  const kv = (async () => {
    while (!stop()) {
      await kvStep(addr).then(() => counts.kv++, () => counts.errors++);
      await sleep(50);
    }
  })();
  while (!stop()) {
    const what = await churnStep(client, versions).catch(() => 'errors');
    counts[what] = (counts[what] ?? 0) + 1;
    await sleep(250);
  }
  await kv;
  return counts;
}

interface Watched {
  server: number;
  agent: number;
  /** The agent's own endpoint, for its metrics. */
  agentAddr: string;
}

async function sample(t0: number, addr: string, pids: Watched, dataDir: string): Promise<Sample> {
  const db = path.join(dataDir, 'state.db');
  const agentMetric = (name: string): Promise<number> => metric(`${pids.agentAddr}/v1/metrics`, `berth_agent_nodejs_${name}`).catch(() => NaN);
  return {
    t_s: Math.round((Date.now() - t0) / 1000),
    server_rss_mb: mb(rssBytes(pids.server)),
    agent_rss_mb: mb(rssBytes(pids.agent)),
    server_fds: openFds(pids.server),
    agent_fds: openFds(pids.agent),
    state_rows: await metric(`${addr}/v1/metrics`, 'berth_state_rows'),
    sqlite_mb: Math.round((fileMb(db) + fileMb(`${db}-wal`)) * 10) / 10,
    task_processes: markedProcesses(MARK).length,
    server_heap_mb: mb(await metric(`${addr}/v1/metrics`, 'berth_nodejs_heap_size_used_bytes')),
    agent_heap_mb: mb(await agentMetric('heap_size_used_bytes')),
    agent_heap_total_mb: mb(await agentMetric('heap_size_total_bytes')),
    agent_external_mb: mb(await agentMetric('external_memory_bytes')),
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.floor(s.length / 2)];
}

/**
 * Each measure of `after` against `base` (the first sample after warm-up): the largest ratio, and
 * whether within +10% (the rule). And the trend, which a GC's sawtooth does not fool: the
 * median of the last third of the samples after warm-up over the median of the first third.
 */
function verdicts(base: Sample, after: Sample[]): Record<string, { max_ratio: number; ok: boolean; trend: number }> {
  const keys = ['server_rss_mb', 'agent_rss_mb', 'server_fds', 'agent_fds', 'state_rows', 'sqlite_mb'] as const;
  const all = [base, ...after];
  const third = Math.max(1, Math.floor(all.length / 3));
  return Object.fromEntries(
    keys.map((k) => {
      const ratio = Math.max(1, ...after.map((s) => s[k] / Math.max(base[k], 1e-9)));
      const trend = median(all.slice(-third).map((s) => s[k])) / Math.max(median(all.slice(0, third).map((s) => s[k])), 1e-9);
      return [k, { max_ratio: Math.round(ratio * 1000) / 1000, ok: ratio <= 1.1, trend: Math.round(trend * 1000) / 1000 }];
    }),
  );
}

/** Purge every job and wait (up to 60 s) for its task processes to end. */
async function wind(client: BerthClient): Promise<number> {
  for (let j = 0; j < JOB_IDS; j++) await client.stopJob(`soak-${j}`, true).catch(() => undefined);
  const deadline = Date.now() + 60_000;
  while (markedProcesses(MARK).length > 0 && Date.now() < deadline) await sleep(500);
  await sleep(2_000);
  return markedProcesses(MARK).length;
}

async function main(dir: string): Promise<Record<string, unknown>> {
  const dataDir = path.join(dir, 'server');
  const gc = ['--gc-interval', '30s', '--eval-gc-threshold', '1m', '--job-gc-threshold', '1m', '--deployment-gc-threshold', '1m'];
  const server = await startServer(dataDir, undefined, '127.0.0.1', gc);
  const agent = await startAgent({ servers: [server.addr], dataDir: path.join(dir, 'agent'), nodeName: 'soak', driver: 'process' });
  const client = new BerthClient({ address: server.addr });
  const agentAddr = (await client.listNodes()).value[0]?.httpAddr ?? '';
  const pids = { server: berthPid(server.child.pid!), agent: berthPid(agent.child.pid!), agentAddr: agentAddr.startsWith('http') ? agentAddr : `http://${agentAddr}` };
  try {
    const t0 = Date.now();
    const end = t0 + MINUTES * 60_000;
    const work = churn(client, server.addr, () => Date.now() >= end);
    const samples: Sample[] = [];
    for (let at = t0 + SAMPLE_MS; at <= end; at += SAMPLE_MS) {
      await sleep(at - Date.now());
      samples.push(await sample(t0, server.addr, pids, dataDir));
      log(`  ${JSON.stringify(samples.at(-1))}`);
    }
    const counts = await work;
    const leftProcesses = await wind(client);
    const last = await sample(t0, server.addr, pids, dataDir);
    const measured = samples.filter((s) => s.t_s * 1000 >= WARMUP_MS);
    const base = measured[0] ?? samples.at(-1)!;
    const v = verdicts(base, measured.slice(1));
    const leakedFds = { server: Math.max(0, last.server_fds - base.server_fds), agent: Math.max(0, last.agent_fds - base.agent_fds) };
    log(`churn: ${JSON.stringify(counts)}; at the end: ${leftProcesses} task processes left, fds server ${last.server_fds} agent ${last.agent_fds} (base ${base.server_fds}/${base.agent_fds})`);
    for (const [k, r] of Object.entries(v)) log(`  ${k}: max ${r.max_ratio}x of the first sample after warm-up: ${r.ok ? 'ok' : 'OVER +10%'}; trend (last third / first third, medians) ${r.trend}x`);
    return { minutes: MINUTES, warmup_s: WARMUP_MS / 1000, counts, samples, end: last, verdicts: v, leaked_processes: leftProcesses, leaked_fds: leakedFds, ok: Object.values(v).every((r) => r.ok) && leftProcesses === 0 && leakedFds.server + leakedFds.agent === 0 };
  } finally {
    await agent.stop();
    await server.stop();
  }
}

const dir = await mkdtemp(path.join(tmpdir(), 'berth-soak-'));
log(`soak: ${MINUTES} min of churn and KV writes, warm-up ${WARMUP_MS / 1000} s, a sample every ${SAMPLE_MS / 1000} s; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
try {
  const result = await main(dir);
  process.stdout.write(JSON.stringify({ ...result, load_average: Math.round(loadavg()[0] * 100) / 100 }) + '\n');
} finally {
  for (const p of markedProcesses(MARK)) process.kill(p.pid, 'SIGKILL');
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}
