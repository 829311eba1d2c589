/**
 * bench/deploy.ts: N replicas on a real dockerd, from submit to all running, three ways in one run:
 *   floor  the Engine API used directly: create + start N containers, best of concurrency 1, 2, 4, 8
 *   berth  `berth dev` in this process (sqlite state, docker driver): POST /v1/jobs until N running
 *   swarm  Docker Swarm mode on the same dockerd: `docker service create --replicas N` until N/N
 * Each way runs `rounds` times and the best time counts (less noise on a shared 2-core machine).
 *
 *   npx tsx bench/deploy.ts [--n 20] [--rounds 3] [--quick]
 * The last line printed is {"n","berth_s","floor_s","swarm_s","ratio_floor","ratio_swarm"}.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type Docker from 'dockerode';
import { startDockerd } from '../test/harness/dockerd.ts';
import { connectDocker } from '../src/drivers/index.ts';
import { Server, openSqliteState } from '../src/server/index.ts';
import { Agent } from '../src/agent/index.ts';
import { BerthClient } from '../src/api/index.ts';
import { silentLogger } from '../src/lib/index.ts';

const { values } = parseArgs({ options: { n: { type: 'string' }, rounds: { type: 'string' }, quick: { type: 'boolean' } } });
const quick = values.quick ?? false;
const N = Number(values.n ?? (quick ? 10 : 20));
const ROUNDS = Number(values.rounds ?? (quick ? 1 : 3));
const CMD = ['httpd', '-f', '-p', '8080'];

const env = await startDockerd();
const docker = connectDocker(env.host);
const log = (s: string): void => void process.stderr.write(s + '\n');

async function removeAll(filterLabel: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [filterLabel] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

/** Create and start N containers with `concurrency` in flight; seconds until all started. */
async function floorOnce(concurrency: number): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < N) {
      const i = next++;
      const c = await docker.createContainer({
        Image: env.image,
        Cmd: CMD,
        name: `bench-floor-${i}`,
        Labels: { 'bench.floor': '1' },
        HostConfig: { Memory: 32 * 1024 * 1024, NanoCpus: 1e8 },
      });
      await c.start();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const s = (performance.now() - t0) / 1000;
  await removeAll('bench.floor=1');
  return s;
}

/** berth dev in-process: submit the job, wait (blocking query) until N allocations run. */
async function berthOnce(): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-bench-'));
  const logger = silentLogger();
  const server = await Server.start({ backend: await openSqliteState(dir), logger, port: 0 });
  const agent = await Agent.start({ serverUrl: server.url, dataDir: path.join(dir, 'agent'), logger, nodeName: 'bench', dockerHost: env.host, defaultDriver: 'docker' });
  const client = new BerthClient({ address: server.url });
  const spec = {
    id: 'bench',
    groups: [{ name: 'web', count: N, tasks: [{ name: 'httpd', driver: 'docker', config: { image: env.image, command: CMD[0], args: CMD.slice(1) }, resources: { cpu: 0.1, memory: 32 } }] }],
  };
  const t0 = performance.now();
  await client.registerJob(spec);
  let index = 0;
  for (;;) {
    const res = await client.jobAllocations('bench', { index, waitMs: 30_000 });
    index = res.index;
    const running = res.value.filter((a) => a.clientStatus === 'running').length;
    if (running >= N) break;
    if (res.value.some((a) => a.clientStatus === 'failed')) throw new Error('an allocation failed: ' + JSON.stringify(res.value.find((a) => a.clientStatus === 'failed')));
  }
  const s = (performance.now() - t0) / 1000;
  await agent.stop({ stopTasks: true });
  await server.stop();
  await removeAll('berth.node=bench');
  await rm(dir, { recursive: true, force: true });
  return s;
}

/** Swarm mode on the same engine: service create until N tasks run. */
async function swarmOnce(): Promise<number> {
  const t0 = performance.now();
  const service = await docker.createService({
    Name: 'bench-swarm',
    TaskTemplate: { ContainerSpec: { Image: env.image, Command: CMD }, Resources: { Limits: { MemoryBytes: 32 * 1024 * 1024, NanoCPUs: 1e8 } } },
    Mode: { Replicated: { Replicas: N } },
  } as Docker.CreateServiceOptions);
  for (;;) {
    const tasks = (await docker.listTasks({ filters: { service: ['bench-swarm'], 'desired-state': ['running'] } })) as { Status?: { State?: string } }[];
    if (tasks.filter((t) => t.Status?.State === 'running').length >= N) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  const s = (performance.now() - t0) / 1000;
  await docker.getService(service.id).remove();
  // Wait for swarm to remove its containers before the next round.
  for (let i = 0; i < 300; i++) {
    if ((await docker.listContainers({ all: true, filters: { label: ['com.docker.swarm.service.name=bench-swarm'] } })).length === 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return s;
}

const best = (xs: number[]): number => Math.min(...xs);
try {
  log(`deploy benchmark: ${N} replicas, ${ROUNDS} round(s) each, dockerd at ${env.host}`);
  const floorByConcurrency: Record<number, number> = {};
  for (const c of [1, 2, 4, 8]) {
    const times: number[] = [];
    for (let r = 0; r < ROUNDS; r++) times.push(await floorOnce(c));
    floorByConcurrency[c] = best(times);
    log(`  floor (Engine API, concurrency ${c}): ${floorByConcurrency[c].toFixed(2)} s`);
  }
  const floor = best(Object.values(floorByConcurrency));

  const berthTimes: number[] = [];
  for (let r = 0; r < ROUNDS; r++) berthTimes.push(await berthOnce());
  const berthS = best(berthTimes);
  log(`  berth: ${berthS.toFixed(2)} s (rounds: ${berthTimes.map((t) => t.toFixed(2)).join(', ')})`);

  let swarmS: number | null = null;
  try {
    await docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' });
    const swarmTimes: number[] = [];
    for (let r = 0; r < ROUNDS; r++) swarmTimes.push(await swarmOnce());
    swarmS = best(swarmTimes);
    log(`  swarm: ${swarmS.toFixed(2)} s (rounds: ${swarmTimes.map((t) => t.toFixed(2)).join(', ')})`);
  } catch (err) {
    log(`  swarm: could not run (${(err as Error).message})`);
  } finally {
    await docker.swarmLeave({ force: true }).catch(() => undefined);
  }

  const result = {
    n: N,
    berth_s: round(berthS),
    floor_s: round(floor),
    swarm_s: swarmS === null ? null : round(swarmS),
    ratio_floor: round(berthS / floor),
    ratio_swarm: swarmS === null ? null : round(berthS / swarmS),
  };
  log(`berth is ${result.ratio_floor}x the Engine API floor${swarmS === null ? '' : ` and ${result.ratio_swarm}x Swarm`}`);
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await env.stop();
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
