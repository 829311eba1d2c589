/**
 * bench/storm.ts: failure storms against real berth processes (issue 19, item 4).
 *   deploy (default)  `berth server` on SQLite and one `berth agent` (process driver, a sleeping
 *                     process per task); 5 jobs x 4 replicas updated back to back (rolling,
 *                     max_parallel 2) while the server is killed with SIGKILL N times and started
 *                     again on the same data dir and port. After the updates stop and the cluster
 *                     converges: jobs lost, allocations duplicated or missing (running per job ==
 *                     count, names unique), allocations stuck (`desired=stop` still
 *                     running/pending), orphan processes (a sleeping task of no running
 *                     allocation) and running allocations without exactly one process.
 *   --etcd            the same with 3 `berth server --etcd` on a real 3-member etcd, killing the
 *                     leader each time (and starting it again).
 *   --agent           (SQLite) every other kill takes the agent too (SIGKILL, started again on its
 *                     data dir): what it reports must match what runs after each restart.
 *   --cron            a periodic job every 10 s across 5 server restarts, SIGTERM and SIGKILL
 *                     alternating, each aimed at a scheduled time (down across it, or killed
 *                     150 ms after it): scheduled times run twice, and missed (none may be, with
 *                     epsilon 30 s covering the seconds the server is down).
 * --quick: 5 kills (full: 20); --kills N overrides.
 *
 *   npx tsx bench/storm.ts [--quick] [--etcd | --cron | --agent] [--kills N]
 * The last line printed is JSON with the figures.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { BerthClient } from '../src/api/index.ts';
import { startAgent, startServer, type BerthProcess } from '../test/harness/cluster.ts';
import { startHaCluster } from '../test/harness/ha.ts';
import { clean, judge, markedProcesses, stormJobSpec, whileRestarting, type Convergence, type JobView } from '../test/harness/storm.ts';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, etcd: { type: 'boolean' }, cron: { type: 'boolean' }, agent: { type: 'boolean' }, kills: { type: 'string' } } });
const KILLS = Number(values.kills ?? (values.quick ? 5 : 20));
const JOBS = 5;
const COUNT = 4;
const MARK = `storm-${process.pid}`;
const JOB = { mark: MARK, count: COUNT, killTimeout: '2s', update: { healthy_deadline: '60s', progress_deadline: '120s' } };
const log = (s: string): void => void process.stderr.write(s + '\n');

/** What a storm needs of the cluster under test. */
interface Target {
  client: BerthClient;
  /** Kill a server (the leader, on etcd) with `signal` and start it again; resolves when it answers, with a note. */
  crash(signal: 'SIGKILL' | 'SIGTERM', downMs?: number): Promise<string>;
  stop(): Promise<void>;
  logs(): string;
}

async function sqliteTarget(dir: string): Promise<Target> {
  const dataDir = path.join(dir, 'server');
  let server = await startServer(dataDir);
  const agentOptions = { servers: [server.addr], dataDir: path.join(dir, 'agent'), nodeName: 'storm', driver: 'process' as const };
  let agent = await startAgent(agentOptions);
  const client = new BerthClient({ address: server.addr });
  let crashes = 0;
  return {
    client,
    crash: async (signal, downMs = 0) => {
      const withAgent = values.agent === true && crashes++ % 2 === 0;
      if (withAgent) await agent.kill9();
      await (signal === 'SIGKILL' ? server.kill9() : server.stop());
      await sleep(downMs);
      server = await startServer(dataDir, server.port);
      if (withAgent) agent = await startAgent(agentOptions);
      return withAgent ? 'and the agent' : '';
    },
    stop: async () => {
      await agent.stop();
      await server.stop();
    },
    logs: () => `server:\n${server.logs().slice(-3000)}\nagent:\n${agent.logs().slice(-3000)}`,
  };
}

async function etcdTarget(): Promise<Target> {
  const cluster = await startHaCluster({ servers: 3, agents: 1 });
  return {
    client: cluster.client,
    crash: async () => {
      const leader = await cluster.leader(30_000);
      const i = cluster.servers.indexOf(leader);
      const t = Date.now();
      await cluster.kill9(i);
      const next = await cluster.leader(30_000);
      const failover = Date.now() - t;
      await cluster.startServer(i);
      return `leader ${leader.name} killed, ${next.name} leads after ${failover} ms`;
    },
    stop: () => cluster.stop(),
    logs: () => cluster.agents.map((a: BerthProcess) => a.logs().slice(-3000)).join('\n'),
  };
}

/** Register a new version of every job, one after another, until `done()`; returns the updates sent. */
async function updateStorm(client: BerthClient, versions: number[], done: () => boolean): Promise<number> {
  let sent = 0;
  while (!done()) {
    for (let j = 0; j < JOBS && !done(); j++) {
      versions[j]++;
      await whileRestarting(() => client.registerJob(stormJobSpec(j, versions[j], JOB), 'json'));
      sent++;
    }
    await sleep(300);
  }
  return sent;
}

async function view(client: BerthClient): Promise<JobView[]> {
  return Promise.all(
    Array.from({ length: JOBS }, async (_, j) => {
      const id = `storm-${j}`;
      const job = await client.getJob(id).catch(() => undefined);
      const allocs = (await client.jobAllocations(id)).value;
      return { id, version: job?.version, stop: job?.stop, allocs };
    }),
  );
}

/** Poll until every job's deployment is done and the judgement is clean, or `timeoutMs`. */
async function converge(client: BerthClient, timeoutMs: number): Promise<{ c: Convergence; seconds: number; jobs: JobView[] }> {
  const t0 = Date.now();
  for (;;) {
    const jobs = await whileRestarting(() => view(client));
    const c = judge(jobs, COUNT, markedProcesses(MARK));
    const deploying = await whileRestarting(async () => (await client.listDeployments()).filter((d) => d.status === 'running').length);
    if ((clean(c) && deploying === 0) || Date.now() - t0 > timeoutMs) return { c, seconds: (Date.now() - t0) / 1000, jobs };
    await sleep(1000);
  }
}

/** The deployment storm: updates back to back while `crash` runs KILLS times; then convergence. */
async function deployStorm(target: Target): Promise<Record<string, unknown>> {
  const { client } = target;
  const versions = Array.from({ length: JOBS }, () => 0);
  for (let j = 0; j < JOBS; j++) await whileRestarting(() => client.registerJob(stormJobSpec(j, 0, JOB), 'json'));
  let stormOver = false;
  const updates = updateStorm(client, versions, () => stormOver);
  const restartMs: number[] = [];
  const t0 = Date.now();
  for (let k = 0; k < KILLS; k++) {
    await sleep(1000 + Math.random() * 2000);
    const t = Date.now();
    const note = await target.crash('SIGKILL');
    restartMs.push(Date.now() - t);
    log(`  kill ${k + 1}/${KILLS}: back in ${restartMs.at(-1)} ms (${((Date.now() - t0) / 1000).toFixed(0)} s in) ${note}`);
  }
  stormOver = true;
  const sent = await updates;
  log(`storm over after ${((Date.now() - t0) / 1000).toFixed(0)} s: ${sent} updates sent; waiting for convergence`);
  const { c, seconds, jobs } = await converge(client, 180_000);
  const processes = markedProcesses(MARK).length;
  const running = jobs.reduce((n, j) => n + j.allocs.filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running').length, 0);
  log(`converged: ${clean(c) ? 'yes' : 'NO'} after ${seconds.toFixed(1)} s; ${running} allocations running, ${processes} task processes`);
  log(`  jobs lost ${c.jobsLost}, duplicated ${c.duplicated}, missing ${c.missing}, old version ${c.oldVersion}, stuck ${c.stuck}, orphan processes ${c.orphanProcesses}, allocations without one process ${c.allocsWithoutOneProcess}`);
  if (!clean(c)) log(target.logs());
  const sorted = [...restartMs].sort((a, b) => a - b);
  return { kills: KILLS, updates: sent, converged: clean(c), converge_s: round(seconds), running, processes, restart_p50_ms: sorted[Math.floor(sorted.length / 2)], restart_max_ms: sorted.at(-1), ...snake(c) };
}

function cronSpec(): object {
  return {
    id: 'storm-cron',
    type: 'batch',
    periodic: { cron: '*/10 * * * * *', epsilon: '30s' },
    groups: [{ name: 'g', restart: { attempts: 0, mode: 'fail' }, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' }, resources: { cpu: '1m', memory: '1Mi' } }] }],
  };
}

/**
 * The cron storm: each restart aimed at a scheduled time T, SIGTERM and SIGKILL alternating, in
 * turn the server down across T (stopped 300 ms before, back 2 s after: the run is launched late,
 * inside epsilon) and killed 150 ms after T (the launch may be in flight). Then runs per scheduled time.
 */
async function cronStorm(target: Target, restarts: number): Promise<Record<string, unknown>> {
  const { client } = target;
  await whileRestarting(() => client.registerJob(cronSpec(), 'json'));
  const from = Math.ceil((Date.now() + 500) / 10_000) * 10_000;
  const down: number[] = [];
  for (let k = 0; k < restarts; k++) {
    // Signals alternate; the two aims go in pairs, so each signal meets each aim.
    const signal = k % 2 === 0 ? 'SIGTERM' : 'SIGKILL';
    const across = Math.floor(k / 2) % 2 === 0;
    const T = Math.ceil((Date.now() + 5_000) / 10_000) * 10_000;
    await sleep(T + (across ? -300 : 150) - Date.now());
    const t = Date.now();
    await target.crash(signal, across ? 2_000 : 0);
    down.push(Date.now() - t);
    log(`  restart ${k + 1}/${restarts} (${signal}, ${across ? 'down across' : 'killed just after'} ${new Date(T).toISOString()}): down ${down.at(-1)} ms`);
  }
  await sleep(12_000);
  const to = Math.floor((Date.now() - 11_000) / 10_000) * 10_000;
  const { runs } = await whileRestarting(() => client.jobRuns('storm-cron', 0));
  let missed = 0;
  let doubled = 0;
  let skipped = 0;
  const expected = (to - from) / 10_000 + 1;
  for (let t = from; t <= to; t += 10_000) {
    const at = runs.filter((r) => r.scheduled === t && r.trigger === 'periodic');
    const launched = at.filter((r) => r.childId);
    if (launched.length === 0) missed++;
    if (at.some((r) => r.outcome === 'skipped')) skipped++;
    doubled += Math.max(0, launched.length - 1);
    // A second launch of the same time would reuse the child's id: count its allocations too.
    for (const r of launched) {
      const allocs = (await whileRestarting(() => client.jobAllocations(r.childId!))).value.length;
      doubled += Math.max(0, r.allocIds.length - 1, allocs - 1);
    }
  }
  const late = runs.filter((r) => r.scheduled >= from && r.scheduled <= to && r.launched !== undefined).map((r) => r.launched! - r.scheduled);
  log(`cron: ${expected} scheduled times across ${restarts} restarts; missed ${missed}, doubled ${doubled}, skipped ${skipped}; launch lag max ${Math.max(0, ...late)} ms`);
  if (missed + doubled > 0) log(JSON.stringify(runs.slice(-expected - 2)));
  return { restarts, scheduled: expected, missed, doubled, skipped, launch_lag_max_ms: Math.max(0, ...late), down_max_ms: Math.max(...down) };
}

function snake(c: Convergence): Record<string, number> {
  return Object.fromEntries(Object.entries(c).map(([k, v]) => [k.replace(/[A-Z]/g, (m) => `_${m.toLowerCase()}`), v]));
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

const dir = await mkdtemp(path.join(tmpdir(), 'berth-storm-'));
const mode = values.cron ? 'cron' : values.etcd ? 'deploy-etcd' : values.agent ? 'deploy-sqlite-agent' : 'deploy-sqlite';
log(`storm ${mode}: ${values.cron ? `5 restarts of the server` : `${KILLS} SIGKILLs of the ${values.etcd ? 'leader (3 servers on 3-member etcd)' : 'server (SQLite)'}, ${JOBS} jobs x ${COUNT}`}; load average ${loadavg().map((l) => l.toFixed(2)).join(' ')}`);
const target = values.etcd ? await etcdTarget() : await sqliteTarget(dir);
let result: Record<string, unknown>;
try {
  result = values.cron ? await cronStorm(target, 5) : await deployStorm(target);
} finally {
  await target.stop();
  // The agent stops with its tasks running (as on an upgrade); this run's are ended here.
  for (const p of markedProcesses(MARK)) process.kill(p.pid, 'SIGKILL');
  // Their wrappers write exit files as they go: retry the removal meanwhile.
  await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
}
process.stdout.write(JSON.stringify({ mode, ...result, load_average: round(loadavg()[0]) }) + '\n');
