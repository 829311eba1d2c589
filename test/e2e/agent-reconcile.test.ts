/**
 * An agent killed with SIGKILL at the worst moments of a stop, with the process driver: after it
 * restarts, what it reports matches what runs (nothing), so no allocation stays `running` or
 * `pending` on the server with nothing behind it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import type { Allocation } from '../../src/model/index.ts';
import { berth, eventually } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { pidsWith } from '../harness/observe.ts';

/** A job of one task that takes `termMs` to exit after SIGTERM; `marker` finds its processes. */
function jobYaml(id: string, marker: string, termMs: number): string {
  const script = `trap 'sleep ${termMs / 1000}; exit 0' TERM; while :; do sleep 0.2; done`;
  return `id: ${id}
type: service
groups:
  - name: app
    count: 1
    tasks:
      - name: main
        driver: process
        config: {command: /bin/sh, args: ["-c", "${script}", "${marker}"]}
        resources: {cpu: 10m, memory: 8Mi}
        kill_timeout: 20s
`;
}

async function allocsOf(addr: string, job: string): Promise<Allocation[]> {
  const res = await fetch(`${addr}/v1/jobs/${job}/allocations`);
  if (!res.ok) throw new Error(`GET allocations of ${job}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Allocation[];
}

describe('berth agent killed with SIGKILL in the middle of a stop', { timeout: 120_000 }, () => {
  let dir: string;
  let server: (BerthProcess & { addr: string; port: number }) | undefined;
  let agent: BerthProcess | undefined;
  const node = `reconcile-${process.pid}`;
  const serverFlags = ['--heartbeat-ttl', '60s'];
  const agentOpts = (): Parameters<typeof startAgent>[0] => ({ servers: [server!.addr], dataDir: path.join(dir, 'agent'), nodeName: node, driver: 'process' });
  const run = async (job: string, marker: string, detach: boolean): Promise<void> => {
    const file = path.join(dir, `${job}.yaml`);
    await writeFile(file, jobYaml(job, marker, 2000));
    const r = await berth(['job', 'run', file, ...(detach ? ['--detach'] : [])], { addr: server!.addr, timeoutMs: 60_000 });
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}\nagent: ${agent?.logs().slice(-3000)}`);
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-reconcile-'));
    // A long TTL: the node must not be marked down (its allocations lost) while the agent is away.
    server = await startServer(path.join(dir, 'server'), undefined, '127.0.0.1', serverFlags);
    agent = await startAgent(agentOpts());
  });
  after(async () => {
    await agent?.stop();
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('reports complete an allocation whose task stopped just before the agent died, and runs nothing again', async () => {
    const job = 'stopped-unreported';
    const marker = `berth-reconcile-a-${process.pid}`;
    await run(job, marker, false);
    assert.equal(pidsWith(marker).length > 0, true, 'the task runs');

    const stop = await berth(['job', 'stop', job, '--detach'], { addr: server!.addr });
    assert.equal(stop.code, 0, stop.stderr);
    // The agent has the stop and sent SIGTERM (the task takes 2 s to exit). Take the server away
    // (killed, not frozen: a frozen one would still read the report from its socket later) so
    // that the report of the stop cannot land, let the task end, kill the agent, and bring the
    // server back on its port and state.
    await sleep(700);
    await server!.kill9();
    await eventually('the task to exit', async () => pidsWith(marker).length === 0, 10_000);
    await sleep(1000);
    await agent!.kill9();
    server = await startServer(path.join(dir, 'server'), server!.port, '127.0.0.1', serverFlags);
    const [stuck] = await allocsOf(server!.addr, job);
    assert.equal(`${stuck!.desiredStatus}/${stuck!.clientStatus}`, 'stop/running', `the server was never told (the window this test is about)\n${agent!.logs().slice(-4000)}`);

    agent = await startAgent(agentOpts());
    const done = await eventually('the allocation to be reported complete', async () => {
      const [a] = await allocsOf(server!.addr, job);
      return a?.clientStatus === 'complete' ? a : undefined;
    }, 20_000);
    assert.equal(done.taskStates.main?.state, 'dead');
    await sleep(1000);
    assert.deepEqual(pidsWith(marker), [], 'its task was not started again');
  });

  it('reports complete an allocation that was placed and stopped while the agent was down', async () => {
    await agent!.kill9();
    const job = 'replaced-unstarted';
    const marker = `berth-reconcile-b-${process.pid}`;
    await run(job, marker, true);
    await eventually('the allocation to be placed', async () => (await allocsOf(server!.addr, job)).length === 1);
    const stop = await berth(['job', 'stop', job, '--detach'], { addr: server!.addr });
    assert.equal(stop.code, 0, stop.stderr);
    const [stuck] = await allocsOf(server!.addr, job);
    assert.equal(`${stuck!.desiredStatus}/${stuck!.clientStatus}`, 'stop/pending');

    agent = await startAgent(agentOpts());
    await eventually('the allocation to be reported complete', async () => (await allocsOf(server!.addr, job))[0]?.clientStatus === 'complete', 20_000);
    assert.deepEqual(pidsWith(marker), [], 'it never ran');
  });
});
