/**
 * bench/rolling-update.ts: a rolling update of N replicas to a new image tag on a real dockerd,
 * `max_parallel` 2, from the update request until every instance runs the new image, two ways in
 * one run:
 *   berth  `berth dev` in this process (sqlite state, docker driver): a new job version with
 *          `update: {max_parallel: 2, health_check: task_states, min_healthy_time: 0s}`, until
 *          N allocations of it run and none of the old one does
 *   swarm  Swarm mode on the same dockerd: a service update to the new image with parallelism 2
 *          (what `docker service update --image ... --update-parallelism 2` sends), until N tasks
 *          of the new image run and none of the old one does
 *
 *   npx tsx bench/rolling-update.ts [--n 10] [--quick]
 * The last line printed is {"replicas","berth_s","swarm_s","ratio"}.
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

const { values } = parseArgs({ options: { n: { type: 'string' }, quick: { type: 'boolean' } } });
const N = Number(values.n ?? 10);
const CMD = ['httpd', '-f', '-p', '8080'];

const env = await startDockerd();
const docker = connectDocker(env.host);
const log = (s: string): void => void process.stderr.write(s + '\n');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const [repo] = env.image.split(':');
const V2 = `${repo}:rolling-v2`;

async function removeAll(filterLabel: string): Promise<void> {
  const list = await docker.listContainers({ all: true, filters: { label: [filterLabel] } });
  await Promise.all(list.map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
}

function spec(image: string): object {
  return {
    id: 'roll-bench',
    update: { max_parallel: 2, health_check: 'task_states', min_healthy_time: '0s', healthy_deadline: '60s', progress_deadline: '120s' },
    groups: [{ name: 'web', count: N, tasks: [{ name: 'httpd', driver: 'docker', config: { image, command: CMD[0], args: CMD.slice(1) }, resources: { cpu: 0.05, memory: 16 }, kill_timeout: '1s' }] }],
  };
}

/** Wait until N allocations of `version` run and none of another version does. */
async function berthSettled(client: BerthClient, version: number): Promise<void> {
  let index = 0;
  for (;;) {
    const res = await client.jobAllocations('roll-bench', { index, waitMs: 30_000 });
    index = res.index;
    const running = res.value.filter((a) => a.clientStatus === 'running');
    if (running.filter((a) => a.jobVersion === version).length >= N && running.every((a) => a.jobVersion === version)) return;
  }
}

async function berthOnce(): Promise<number> {
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-rollbench-'));
  const logger = silentLogger();
  const server = await Server.start({ backend: await openSqliteState(dir), logger, port: 0 });
  const agent = await Agent.start({ serverUrl: server.url, dataDir: path.join(dir, 'agent'), logger, nodeName: 'rollbench', dockerHost: env.host, defaultDriver: 'docker' });
  const client = new BerthClient({ address: server.url });
  try {
    await client.registerJob(spec(env.image));
    await berthSettled(client, 0);
    // Let the first deployment finish, so the update starts from a steady state.
    for (let i = 0; i < 200 && (await client.jobDeployment('roll-bench'))?.status === 'running'; i++) await sleep(50);
    const t0 = performance.now();
    await client.registerJob(spec(V2));
    await berthSettled(client, 1);
    return (performance.now() - t0) / 1000;
  } finally {
    await agent.stop({ stopTasks: true });
    await server.stop();
    await removeAll('berth.node=rollbench');
    await rm(dir, { recursive: true, force: true });
  }
}

interface SwarmTask {
  Status?: { State?: string };
  DesiredState?: string;
  Spec?: { ContainerSpec?: { Image?: string } };
}

async function swarmSettled(image: string): Promise<void> {
  for (;;) {
    const tasks = (await docker.listTasks({ filters: { service: ['bench-roll'] } })) as SwarmTask[];
    const running = tasks.filter((t) => t.Status?.State === 'running');
    if (running.filter((t) => t.Spec?.ContainerSpec?.Image === image).length >= N && running.every((t) => t.Spec?.ContainerSpec?.Image === image)) return;
    await sleep(20);
  }
}

async function swarmOnce(): Promise<number> {
  const template = (image: string): object => ({ ContainerSpec: { Image: image, Command: CMD, StopGracePeriod: 1e9 }, Resources: { Limits: { MemoryBytes: 16 * 1024 * 1024, NanoCPUs: 5e7 } } });
  const created = await docker.createService({ Name: 'bench-roll', TaskTemplate: template(env.image), Mode: { Replicated: { Replicas: N } } } as Docker.CreateServiceOptions);
  const service = docker.getService(created.id);
  try {
    await swarmSettled(env.image);
    const info = (await service.inspect()) as { Version: { Index: number }; Spec: Record<string, unknown> };
    const t0 = performance.now();
    await service.update({ version: info.Version.Index, ...info.Spec, TaskTemplate: template(V2), UpdateConfig: { Parallelism: 2 } });
    await swarmSettled(V2);
    return (performance.now() - t0) / 1000;
  } finally {
    await service.remove().catch(() => undefined);
    for (let i = 0; i < 300; i++) {
      if ((await docker.listContainers({ all: true, filters: { label: ['com.docker.swarm.service.name=bench-roll'] } })).length === 0) break;
      await sleep(100);
    }
  }
}

try {
  log(`rolling-update benchmark: ${N} replicas, one image change, max_parallel 2, dockerd at ${env.host}`);
  // A second tag of the test image: a real image change without a registry.
  await docker.getImage(env.image).tag({ repo, tag: 'rolling-v2' });
  const berthS = await berthOnce();
  log(`  berth: ${berthS.toFixed(2)} s`);
  let swarmS: number | null = null;
  try {
    await docker.swarmInit({ ListenAddr: '127.0.0.1:2377', AdvertiseAddr: '127.0.0.1' });
    swarmS = await swarmOnce();
    log(`  swarm: ${swarmS.toFixed(2)} s`);
  } catch (err) {
    log(`  swarm: could not run (${(err as Error).message})`);
  } finally {
    await docker.swarmLeave({ force: true }).catch(() => undefined);
  }
  const result = { replicas: N, berth_s: round(berthS), swarm_s: swarmS === null ? null : round(swarmS), ratio: swarmS === null ? null : round(berthS / swarmS) };
  log(swarmS === null ? 'swarm did not run' : `berth takes ${result.ratio}x the time of Swarm`);
  process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await docker.getImage(V2).remove().catch(() => undefined);
  await env.stop();
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
