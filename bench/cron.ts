/**
 * bench/cron.ts: N periodic jobs firing together on the process driver, for a number of rounds:
 *   berth  server + agent in this process (sqlite state, process driver): launch lag from the
 *          scheduled time to the task running (the run's start), runs missed, runs doubled
 *   peer   bare croner timers in this process, same schedules: the lag of the timer alone (the
 *          floor any cron on this machine pays; Nomad is not available here to run side by side)
 *   floor  the spawn floor, after berth's rounds: at a set time, the same number of the same
 *          process (/bin/true) started directly from this one Node process (child_process.spawn),
 *          ROUNDS times; the lag from that time to each process's start. What starting that many
 *          processes at once costs on this machine, whatever schedules them; `lag_over_floor_p99`
 *          is berth's p99 lag over the floor's (target: within 3x at 1,000 jobs a minute).
 * Full: 1,000 jobs every minute for 5 minutes. --quick: 100 jobs every 10 s for 3 rounds.
 *
 *   npx tsx bench/cron.ts [--jobs 1000] [--rounds 5] [--quick]
 * The last line printed is {"jobs","lag_p50_ms","lag_p99_ms","missed","doubled",...,"floor_lag_p50_ms","floor_lag_p99_ms","lag_over_floor_p99"}.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Cron } from 'croner';
import { Server, openSqliteState } from '../src/server/index.ts';
import { Agent } from '../src/agent/index.ts';
import { BerthClient } from '../src/api/index.ts';
import { silentLogger } from '../src/lib/index.ts';
import type { JobRun } from '../src/model/index.ts';

const { values } = parseArgs({ options: { jobs: { type: 'string' }, rounds: { type: 'string' }, quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const JOBS = Number(values.jobs ?? (quick ? 100 : 1000));
const ROUNDS = Number(values.rounds ?? (quick ? 3 : 5));
const CRON = quick ? '*/10 * * * * *' : '0 * * * * *';
const PERIOD_MS = quick ? 10_000 : 60_000;
const log = (s: string): void => void process.stderr.write(s + '\n');

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

/**
 * A read after the long wait, tried again on a dropped connection: a kept-alive socket the server
 * closed as idle just as the client reused it answers ECONNRESET, which says nothing of berth.
 */
async function read<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= 3 || (err as { code?: string }).code !== 'unavailable') throw err;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/** The peer: one croner timer per job, lag of each firing against its scheduled time. */
async function peer(until: number): Promise<number[]> {
  const lags: number[] = [];
  const timers = Array.from({ length: JOBS }, () => {
    const c: Cron = new Cron(CRON, () => {
      const scheduled = Math.round(Date.now() / 1000) * 1000;
      lags.push(Date.now() - scheduled);
      if (Date.now() > until) c.stop();
    });
    return c;
  });
  await new Promise((r) => setTimeout(r, until - Date.now() + 500));
  for (const t of timers) t.stop();
  return lags;
}

/** The spawn floor: ROUNDS times, JOBS /bin/true processes started at once at a set time; each one's lag to its start. */
async function spawnFloor(): Promise<number[]> {
  const lags: number[] = [];
  for (let k = 0; k < ROUNDS; k++) {
    const at = Date.now() + 200;
    await new Promise((r) => setTimeout(r, at - Date.now()));
    await Promise.all(
      Array.from(
        { length: JOBS },
        () =>
          new Promise<void>((resolve, reject) => {
            const child = spawn('/bin/true', [], { stdio: 'ignore' });
            child.once('spawn', () => lags.push(Date.now() - at));
            child.once('error', reject);
            child.once('exit', () => resolve());
          }),
      ),
    );
  }
  return lags;
}

async function berth(dir: string): Promise<{ lags: number[]; launchLags: number[]; placeLags: number[]; missed: number; doubled: number; expected: number; peerLags: number[] }> {
  const server = await Server.start({ backend: await openSqliteState(path.join(dir, 'server')), logger: silentLogger(), port: 0, workers: 2 });
  const agent = await Agent.start({ serverUrl: server.url, dataDir: path.join(dir, 'agent'), logger: silentLogger(), nodeName: 'bench', defaultDriver: 'process' });
  const client = new BerthClient({ address: server.url });
  try {
    const t0 = Date.now();
    for (let i = 0; i < JOBS; i++) {
      await client.registerJob(
        {
          id: `cron-${i}`,
          type: 'batch',
          periodic: { cron: CRON, epsilon: '30s' },
          groups: [{ name: 'g', restart: { attempts: 0, mode: 'fail' }, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' }, resources: { cpu: '1m', memory: '1Mi' } }] }],
        },
        'json',
      );
    }
    log(`berth: ${JOBS} periodic jobs registered in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // The rounds: the scheduled times after registration, ROUNDS of them.
    const first = Math.ceil((Date.now() + 1000) / PERIOD_MS) * PERIOD_MS;
    const times = Array.from({ length: ROUNDS }, (_, k) => first + k * PERIOD_MS);
    const end = times[times.length - 1];
    const peerLags = peer(end);
    await new Promise((r) => setTimeout(r, end - Date.now() + 15_000));
    const lags: number[] = [];
    const launchLags: number[] = [];
    const placeLags: number[] = [];
    // When each allocation was placed (the plan applied), to split the lag into placement and start.
    const nodeId = (await read(() => client.listNodes())).value[0].id;
    const placedAt = new Map((await read(() => client.nodeAllocations(nodeId))).value.map((a) => [a.id, a.createTime]));
    let missed = 0;
    let doubled = 0;
    for (let i = 0; i < JOBS; i++) {
      const { runs } = await read(() => client.jobRuns(`cron-${i}`, 0));
      for (const t of times) {
        const at = runs.filter((r: JobRun) => r.scheduled === t && r.trigger === 'periodic' && r.childId);
        if (at.length === 0 || at[0].start === undefined) missed++;
        if (at.length > 1) doubled += at.length - 1;
        if (at[0]?.start !== undefined) lags.push(at[0].start - t);
        if (at[0]?.launched !== undefined) launchLags.push(at[0].launched - t);
        const placed = at[0]?.allocIds[0] === undefined ? undefined : placedAt.get(at[0].allocIds[0]);
        if (placed !== undefined) placeLags.push(placed - t);
      }
    }
    // A second check against doubles: child jobs per (parent, scheduled second).
    const children = (await read(() => client.listJobs())).value.filter((j) => j.id.includes('/periodic-'));
    const perKey = new Map<string, number>();
    for (const c of children) perKey.set(c.id, (perKey.get(c.id) ?? 0) + 1);
    doubled += [...perKey.values()].filter((n) => n > 1).length;
    return { lags, launchLags, placeLags, missed, doubled, expected: JOBS * ROUNDS, peerLags: await peerLags };
  } finally {
    await agent.stop({ stopTasks: true });
    await server.stop();
  }
}

const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-cron-'));
try {
  log(`cron bench: ${JOBS} jobs, cron "${CRON}", ${ROUNDS} rounds`);
  const b = await berth(dir);
  const p = b.peerLags.sort((x, y) => x - y);
  const lags = b.lags.sort((x, y) => x - y);
  const floor = (await spawnFloor()).sort((x, y) => x - y);
  const out = {
    jobs: JOBS,
    rounds: ROUNDS,
    cron: CRON,
    lag_p50_ms: percentile(lags, 50),
    lag_p99_ms: percentile(lags, 99),
    lag_max_ms: lags.at(-1) ?? NaN,
    launch_p50_ms: percentile(b.launchLags.sort((x, y) => x - y), 50),
    launch_p99_ms: percentile(b.launchLags, 99),
    placed_p50_ms: percentile(b.placeLags.sort((x, y) => x - y), 50),
    placed_p99_ms: percentile(b.placeLags, 99),
    missed: b.missed,
    doubled: b.doubled,
    expected_runs: b.expected,
    peer_lag_p50_ms: percentile(p, 50),
    peer_lag_p99_ms: percentile(p, 99),
    floor_lag_p50_ms: percentile(floor, 50),
    floor_lag_p99_ms: percentile(floor, 99),
    lag_over_floor_p99: Math.round((percentile(lags, 99) / Math.max(1, percentile(floor, 99))) * 100) / 100,
  };
  log(`berth: lag p50 ${out.lag_p50_ms} ms, p99 ${out.lag_p99_ms} ms, max ${out.lag_max_ms} ms; missed ${out.missed}, doubled ${out.doubled} of ${out.expected_runs}`);
  log(`berth: scheduled time to child job committed: p50 ${out.launch_p50_ms} ms, p99 ${out.launch_p99_ms} ms (the rest is placement and process start)`);
  log(`berth: scheduled time to allocation placed (plan applied): p50 ${out.placed_p50_ms} ms, p99 ${out.placed_p99_ms} ms (the rest is the agent starting it)`);
  log(`peer (bare croner timers): lag p50 ${out.peer_lag_p50_ms} ms, p99 ${out.peer_lag_p99_ms} ms`);
  log(`spawn floor (${JOBS} x /bin/true started at once from one Node process, ${ROUNDS} times): lag p50 ${out.floor_lag_p50_ms} ms, p99 ${out.floor_lag_p99_ms} ms; berth p99 over it: ${out.lag_over_floor_p99}x (target <= 3x)`);
  process.stdout.write(JSON.stringify(out) + '\n');
} finally {
  await rm(dir, { recursive: true, force: true });
}
