/**
 * bench/task-start.ts: how long one task takes from its allocation being placed to running, on a
 * real dockerd, two ways in one run, alternating round by round so both see the same machine:
 *   direct  the Engine API used directly: create + start one container (the floor)
 *   berth   `berth dev` in this process (sqlite state, docker driver): the allocation's createTime
 *           (the plan commit that placed it) to its task's startedAt (the container started and
 *           its handle saved), both on this process's clock
 * Each way runs `rounds` times; the median counts.
 *
 *   npx tsx bench/task-start.ts [--rounds 15] [--quick]
 * The last line printed is {"berth_ms","direct_ms","ratio"}.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startDockerd } from '../test/harness/dockerd.ts';
import { connectDocker } from '../src/drivers/index.ts';
import { Server, openSqliteState } from '../src/server/index.ts';
import { Agent } from '../src/agent/index.ts';
import { BerthClient } from '../src/api/index.ts';
import { silentLogger } from '../src/lib/index.ts';
import type { Allocation } from '../src/model/index.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string' }, quick: { type: 'boolean' } } });
const ROUNDS = Number(values.rounds ?? (values.quick ? 5 : 15));
const SCRIPT = "trap 'exit 0' TERM; while :; do sleep 1; done";

const env = await startDockerd();
const docker = connectDocker(env.host);
const log = (s: string): void => void process.stderr.write(s + '\n');
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** One container created and started through the Engine API, with the options berth would give it. */
async function directOnce(i: number): Promise<number> {
  const t0 = performance.now();
  const c = await docker.createContainer({
    name: `bench-direct-${process.pid}-${i}`,
    Image: env.image,
    Entrypoint: [],
    Cmd: ['/bin/sh', '-c', SCRIPT],
    Labels: { 'bench.direct': '1' },
    HostConfig: { Memory: 32 * 1024 * 1024, NanoCpus: 1e8, RestartPolicy: { Name: 'no' }, LogConfig: { Type: 'json-file', Config: { 'max-size': '10240k', 'max-file': '10' } } },
  });
  await c.start();
  const ms = performance.now() - t0;
  await c.remove({ force: true });
  return ms;
}

const dataDir = await mkdtemp(path.join(tmpdir(), 'berth-bench-start-'));
const backend = await openSqliteState(path.join(dataDir, 'server'));
const server = await Server.start({ backend, logger: silentLogger(), port: 0 });
const agent = await Agent.start({ serverUrl: server.url, dataDir: path.join(dataDir, 'agent'), logger: silentLogger(), nodeName: 'bench', defaultDriver: 'docker', dockerHost: env.host });
const client = new BerthClient({ address: server.url });

/** One job of one task: placed -> running, from the allocation's own timestamps. */
async function berthOnce(i: number): Promise<number> {
  const id = `start-${i}`;
  await client.registerJob({
    id,
    groups: [{ name: 'g', tasks: [{ name: 't', driver: 'docker', config: { image: env.image, command: '/bin/sh', args: ['-c', SCRIPT] }, resources: { cpu: '100m', memory: '32Mi' }, kill_timeout: '1s' }] }],
  }, 'json');
  let alloc: Allocation | undefined;
  for (const deadline = Date.now() + 30_000; Date.now() < deadline; await sleep(20)) {
    alloc = server.view.allocsByJob(id).find((a) => a.taskStates.t?.state === 'running');
    if (alloc) break;
  }
  if (!alloc) throw new Error(`Cannot measure: job ${id} did not run within 30 s`);
  const ms = alloc.taskStates.t.startedAt! - alloc.createTime;
  await client.stopJob(id, true);
  for (const deadline = Date.now() + 15_000; Date.now() < deadline && server.view.allocsByJob(id).some((a) => a.clientStatus === 'running'); ) await sleep(50);
  return ms;
}

const direct: number[] = [];
const berth: number[] = [];
try {
  // One of each first, unmeasured: image layers and code paths warm up.
  await directOnce(-1);
  await berthOnce(-1);
  for (let i = 0; i < ROUNDS; i++) {
    direct.push(await directOnce(i));
    berth.push(await berthOnce(i));
    log(`round ${i + 1}/${ROUNDS}: direct ${direct.at(-1)!.toFixed(0)} ms, berth ${berth.at(-1)!.toFixed(0)} ms`);
  }
} finally {
  await agent.stop({ stopTasks: true });
  await server.stop();
  await rm(dataDir, { recursive: true, force: true });
  await env.stop();
}

const result = { berth_ms: Math.round(median(berth)), direct_ms: Math.round(median(direct)), ratio: Math.round((median(berth) / median(direct)) * 1000) / 1000 };
log(`\ntask start, median of ${ROUNDS}: berth ${result.berth_ms} ms (placed -> running), Engine API create+start ${result.direct_ms} ms, ratio ${result.ratio} (target <= 1.05)`);
process.stdout.write(JSON.stringify(result) + '\n');
