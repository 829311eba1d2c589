/**
 * bench/scheduler.ts: placements per second through the whole control plane (eval broker, two
 * workers running the scheduler, plan applier, state view and store), on the memory and the sqlite
 * backends, with bin-pack quality and peak RSS.
 *
 *   5,000 simulated nodes of three sizes with rack, zone, class and kernel attributes;
 *   1,000 service jobs x 100 allocations, each with constraints (os, kernel version, class, and for
 *   some a distinct_property per rack), registered at once as jobs plus evaluations.
 *
 *   npx tsx bench/scheduler.ts [--nodes 5000] [--jobs 1000] [--count 100] [--rounds 2] [--quick]
 * Each backend runs `rounds` times on a fresh server and the best run counts.
 *
 * The floor, so that the figure carries across machines: the same allocations (those the run
 * placed, one plan per job as the scheduler submitted them) committed through the plan applier on
 * a fresh state of the same backend, with no scheduling at all; `floor_ratio_*` is the
 * placement rate over the floor's (1.0: scheduling costs nothing beside committing).
 *
 * The last line printed is {"nodes","allocs","placements_per_s_memory","placements_per_s_sqlite","floor_per_s_memory",
 * "floor_per_s_sqlite","floor_ratio_memory","floor_ratio_sqlite","binpack_ratio","rss_mb"}.
 * For scale, Nomad's C1M placed ~3,750 containers/s on 5 servers.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { isTerminal, type Evaluation, type Job, type Node } from '../src/model/index.ts';
import { MemoryBackend, StateStore, StateView, type StateBackend, type Write } from '../src/state/index.ts';
import type { Allocation } from '../src/model/index.ts';
import { PlanApplier, Server, openSqliteState } from '../src/server/index.ts';
import { silentLogger, systemClock } from '../src/lib/index.ts';

const { values } = parseArgs({
  options: { nodes: { type: 'string' }, jobs: { type: 'string' }, count: { type: 'string' }, rounds: { type: 'string' }, quick: { type: 'boolean' } },
});
const quick = values.quick ?? false;
const NODES = Number(values.nodes ?? (quick ? 1_000 : 5_000));
const JOBS = Number(values.jobs ?? (quick ? 100 : 1_000));
const COUNT = Number(values.count ?? 100);
/** Rounds per backend, each on a fresh server; the best counts (the machine is shared). */
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 2));
const log = (s: string): void => void process.stderr.write(s + '\n');

/** Node sizes: cores and MiB, a third of the fleet each. */
const SIZES = [
  { cpu: 4, memoryMiB: 8_192 },
  { cpu: 8, memoryMiB: 16_384 },
  { cpu: 16, memoryMiB: 32_768 },
];

function makeNodes(n: number): Node[] {
  return Array.from({ length: n }, (_, i) => {
    const size = SIZES[i % SIZES.length];
    const id = `node-${String(i).padStart(5, '0')}`;
    return {
      id,
      name: id,
      datacenter: i % 10 === 9 ? 'dc2' : 'dc1',
      address: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
      httpAddr: '',
      status: 'ready',
      eligible: true,
      attributes: { os: i % 50 === 49 ? 'windows' : 'linux', kernel: `5.${i % 20}.0`, arch: 'x86_64', zone: `z${i % 3}` },
      meta: { rack: `r${i % 100}` },
      nodeClass: i % 25 === 24 ? 'gpu' : 'general',
      drivers: { docker: { detected: true, healthy: true }, process: { detected: true, healthy: true } },
      defaultDriver: 'docker',
      resources: size,
      portRange: { min: 20_000, max: 32_000 },
      lastHeartbeat: 0,
    } satisfies Node;
  });
}

/** Job `i`: 100 allocations of one of four sizes, with constraints; every 10th spreads over racks. */
function makeJob(i: number): Job {
  // About 65% of the feasible fleet in all: room to place everything, little to spare.
  const cpu = [0.1, 0.25, 0.5, 0.25][i % 4];
  const memoryMiB = [256, 512, 1_024, 256][i % 4];
  const constraints: Job['constraints'] = [
    { attribute: '${attr.os}', operator: '=', value: 'linux' },
    { attribute: '${attr.kernel}', operator: 'version', value: '>= 5.2' },
    { attribute: '${node.class}', operator: '!=', value: 'gpu' },
  ];
  if (i % 10 === 0) constraints.push({ attribute: '${meta.rack}', operator: 'distinct_property', value: '2' });
  return {
    id: `job-${String(i).padStart(4, '0')}`,
    type: 'service',
    priority: 50,
    datacenters: ['dc1', 'dc2'],
    constraints,
    groups: [
      {
        name: 'web',
        count: COUNT,
        tasks: [{ name: 'web', driver: 'docker', config: { image: 'busybox' }, env: {}, resources: { cpu, memoryMiB }, killTimeoutMs: 5_000 }],
        ports: [],
        restart: { attempts: 2, intervalMs: 1_800_000, delayMs: 15_000, mode: 'fail' },
      },
    ],
    meta: {},
    version: 0,
    stop: false,
    submitTime: 0,
  };
}

/** Total cores and MiB the jobs ask for. */
function demand(jobs: Job[]): { cpu: number; mem: number } {
  let cpu = 0;
  let mem = 0;
  for (const j of jobs) {
    for (const g of j.groups) {
      for (const t of g.tasks) {
        cpu += t.resources.cpu * g.count;
        mem += t.resources.memoryMiB * g.count;
      }
    }
  }
  return { cpu, mem };
}

/**
 * The lower bound: total requested / node capacity, with the capacity of an average
 * feasible node (the fleet is mixed), in the tighter of the two dimensions.
 */
function averageBound(nodes: Node[], jobs: Job[], feasible: (n: Node) => boolean): number {
  const { cpu, mem } = demand(jobs);
  const fit = nodes.filter(feasible);
  const avgCpu = fit.reduce((s, n) => s + n.resources.cpu, 0) / fit.length;
  const avgMem = fit.reduce((s, n) => s + n.resources.memoryMiB, 0) / fit.length;
  return Math.ceil(Math.max(cpu / avgCpu, mem / avgMem));
}

/** A stricter bound: the fewest nodes that could hold the demand, biggest nodes first. */
function strictBound(nodes: Node[], jobs: Job[], feasible: (n: Node) => boolean): number {
  let { cpu, mem } = demand(jobs);
  const sorted = nodes.filter(feasible).sort((a, b) => b.resources.cpu - a.resources.cpu);
  let n = 0;
  for (const node of sorted) {
    if (cpu <= 0 && mem <= 0) break;
    cpu -= node.resources.cpu;
    mem -= node.resources.memoryMiB;
    n++;
  }
  return n;
}

interface Run {
  /** The live allocations the run placed, for the floor. */
  allocs: Allocation[];
  placed: number;
  seconds: number;
  nodesUsed: number;
  failures: number;
  /** Peak RSS during the run, bytes. */
  rss: number;
}

/** Peak RSS of the run under way, sampled every 50 ms. */
let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

async function runOnce(label: string, backend: StateBackend, nodes: Node[], jobs: Job[]): Promise<Run> {
  peakRss = process.memoryUsage().rss;
  const server = await Server.start({ backend, logger: silentLogger(), port: 0, workers: 2, heartbeat: { minHeartbeatTtlMs: 3_600_000 } });
  try {
    for (let i = 0; i < nodes.length; i += 500) {
      const r = await server.store.commit(nodes.slice(i, i + 500).map((n) => ({ table: 'nodes', id: n.id, value: n }) satisfies Write));
      if (!r.ok) throw new Error('cannot write nodes');
    }
    const done = new Promise<void>((resolve) => {
      let finished = 0;
      let seen = 0;
      const off = server.view.onChange((_rev, changes) => {
        // The run keeps the event loop too busy for the interval timer: sample here as well.
        if (++seen % 50 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
        for (const c of changes) {
          if (c.table !== 'evals' || c.type !== 'put') continue;
          const e = server.view.eval(c.id);
          if (e && e.triggeredBy === 'job-register' && (e.status === 'complete' || e.status === 'failed')) finished++;
        }
        if (finished >= jobs.length) {
          off();
          resolve();
        }
      });
    });
    const t0 = performance.now();
    const now = Date.now();
    for (let i = 0; i < jobs.length; i += 100) {
      const writes: Write[] = [];
      for (const job of jobs.slice(i, i + 100)) {
        const evaluation: Evaluation = { id: `eval-${job.id}`, jobId: job.id, priority: 50, triggeredBy: 'job-register', status: 'pending', failures: [], createTime: now, modifyTime: now };
        writes.push({ table: 'jobs', id: job.id, value: job }, { table: 'evals', id: evaluation.id, value: evaluation });
      }
      const r = await server.store.commit(writes);
      if (!r.ok) throw new Error('cannot write jobs');
    }
    await done;
    const seconds = (performance.now() - t0) / 1000;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const live = server.view.allocs().filter((a) => !isTerminal(a));
    const failures = server.view.evals().filter((e) => e.triggeredBy === 'job-register').reduce((n, e) => n + e.failures.reduce((m, f) => m + f.missing, 0), 0);
    const run = { allocs: live, placed: live.length, seconds, nodesUsed: new Set(live.map((a) => a.nodeId)).size, failures, rss: peakRss };
    log(`${label}: ${run.placed} placements in ${seconds.toFixed(2)} s = ${Math.round(run.placed / seconds)}/s on ${run.nodesUsed} nodes, ${failures} unplaced`);
    return run;
  } finally {
    await server.stop();
  }
}

const nodes = makeNodes(NODES);
const jobs = Array.from({ length: JOBS }, (_, i) => makeJob(i));
log(`bench/scheduler: ${NODES} nodes, ${JOBS} jobs x ${COUNT} allocations`);

/** The fastest of `ROUNDS` runs. */
async function best(label: string, open: () => Promise<{ backend: StateBackend; cleanup: () => Promise<void> }>): Promise<Run> {
  let out: Run | undefined;
  for (let round = 0; round < ROUNDS; round++) {
    const { backend, cleanup } = await open();
    // What an earlier round left behind must not count in this one's RSS.
    (globalThis as { gc?: () => void }).gc?.();
    try {
      const run = await runOnce(label, backend, nodes, jobs);
      if (out === undefined || run.placed / run.seconds > out.placed / out.seconds) out = { ...run, rss: Math.min(run.rss, out?.rss ?? Infinity) };
      else out.rss = Math.min(out.rss, run.rss);
    } finally {
      await cleanup();
    }
  }
  return out!;
}

/**
 * The floor: the run's allocations committed through the plan applier, one plan per job, all
 * submitted at once as the workers do, on a fresh state holding the same nodes and jobs and no
 * evaluation (so nothing schedules); placements per second.
 */
async function floor(label: string, backend: StateBackend, placed: Allocation[]): Promise<number> {
  const view = await StateView.open(backend);
  const store = new StateStore(backend, view);
  try {
    const rows: Write[] = [...nodes.map((n) => ({ table: 'nodes', id: n.id, value: n }) satisfies Write), ...jobs.map((j) => ({ table: 'jobs', id: j.id, value: j }) satisfies Write)];
    for (let i = 0; i < rows.length; i += 500) if (!(await store.commit(rows.slice(i, i + 500))).ok) throw new Error('cannot write nodes and jobs');
    const byJob = new Map<string, Allocation[]>();
    for (const a of placed) byJob.set(a.jobId, [...(byJob.get(a.jobId) ?? []), a]);
    const applier = new PlanApplier({ view, store, clock: systemClock });
    const t0 = performance.now();
    const results = await Promise.all([...byJob].map(([jobId, place]) => applier.apply({ evalId: `floor-${jobId}`, jobId, place, stop: [], failures: [] })));
    const seconds = (performance.now() - t0) / 1000;
    const committed = results.reduce((n, r) => n + r.placed.length, 0);
    if (committed !== placed.length) throw new Error(`floor: ${committed} of ${placed.length} allocations committed`);
    log(`${label} floor: ${committed} allocations through the plan applier in ${seconds.toFixed(2)} s = ${Math.round(committed / seconds)}/s`);
    return Math.round(committed / seconds);
  } finally {
    await view.close();
  }
}

const openSqlite = async (): Promise<{ backend: StateBackend; cleanup: () => Promise<void> }> => {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-sched-'));
  const backend = await openSqliteState(dir);
  return { backend, cleanup: () => rm(dir, { recursive: true, force: true }) };
};
const memory = await best('memory', async () => ({ backend: new MemoryBackend(), cleanup: async () => undefined }));
const sqlite = await best('sqlite', openSqlite);
clearInterval(sampler);
const memoryFloor = await floor('memory', new MemoryBackend(), memory.allocs);
const sqliteState = await openSqlite();
const sqliteFloor = await floor('sqlite', sqliteState.backend, sqlite.allocs).finally(async () => {
  await sqliteState.backend.close();
  await sqliteState.cleanup();
});
const memoryRate = Math.round(memory.placed / memory.seconds);
const sqliteRate = Math.round(sqlite.placed / sqlite.seconds);
log(`placements over the floor: memory ${(memoryRate / memoryFloor).toFixed(3)}, sqlite ${(sqliteRate / sqliteFloor).toFixed(3)}`);

const feasible = (n: Node): boolean => n.attributes.os === 'linux' && n.nodeClass !== 'gpu' && Number(n.attributes.kernel.split('.')[1]) >= 2;
const bound = averageBound(nodes, jobs, feasible);
const strict = strictBound(nodes, jobs, feasible);
// The ratio is taken against the strict bound (a true lower bound on a mixed fleet); the
// average-node bound is printed too, for the wording.
const ratio = memory.nodesUsed / strict;
log(`bin-pack: ${memory.nodesUsed} nodes used; lower bound ${strict} (biggest nodes first): ratio ${ratio.toFixed(3)}; total / average node ${bound}: ratio ${(memory.nodesUsed / bound).toFixed(3)}; peak RSS ${Math.round(memory.rss / 1048576)} MiB (memory backend)`);
log('for scale: Nomad C1M placed ~3,750 containers/s with 5 servers');
console.log(
  JSON.stringify({
    nodes: NODES,
    allocs: memory.placed,
    placements_per_s_memory: memoryRate,
    placements_per_s_sqlite: sqliteRate,
    floor_per_s_memory: memoryFloor,
    floor_per_s_sqlite: sqliteFloor,
    floor_ratio_memory: Math.round((memoryRate / memoryFloor) * 1000) / 1000,
    floor_ratio_sqlite: Math.round((sqliteRate / sqliteFloor) * 1000) / 1000,
    binpack_ratio: Math.round(ratio * 1000) / 1000,
    rss_mb: Math.round(memory.rss / 1048576),
  }),
);
