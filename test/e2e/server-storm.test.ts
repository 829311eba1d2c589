/**
 * A deployment storm while the server (SQLite) is killed with SIGKILL: jobs updated back to back
 * with rolling updates, the server killed and started again on its data dir a few times; once
 * the updates stop, every job runs exactly `count` allocations of its latest version, each with
 * one task process, and no process is left of any other (the reduced form of bench/storm.ts).
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { BerthClient } from '../../src/api/index.ts';
import { eventually } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { clean, judge, markedProcesses, stormJobSpec, whileRestarting, type JobView } from '../harness/storm.ts';

const JOBS = 3;
const COUNT = 3;
const KILLS = 4;
const MARK = `server-storm-${process.pid}`;
const JOB = { mark: MARK, count: COUNT, killTimeout: '1s' };

async function view(client: BerthClient): Promise<JobView[]> {
  return Promise.all(
    Array.from({ length: JOBS }, async (_, j) => {
      const job = await client.getJob(`storm-${j}`).catch(() => undefined);
      return { id: `storm-${j}`, version: job?.version, stop: job?.stop, allocs: (await client.jobAllocations(`storm-${j}`)).value };
    }),
  );
}

describe('berth server killed with SIGKILL during a deployment storm', { timeout: 120_000 }, () => {
  let dir: string;
  let server: BerthProcess & { addr: string; port: number };
  let agent: BerthProcess;

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-server-storm-'));
    server = await startServer(path.join(dir, 'server'));
    agent = await startAgent({ servers: [server.addr], dataDir: path.join(dir, 'agent'), nodeName: 'storm', driver: 'process' });
  });
  after(async () => {
    await agent?.stop();
    await server?.stop();
    for (const p of markedProcesses(MARK)) process.kill(p.pid, 'SIGKILL');
    await rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });
  });

  it('loses no job and converges to exactly count allocations, one process each, none orphaned', async () => {
    const client = new BerthClient({ address: server.addr });
    const versions = Array.from({ length: JOBS }, () => 0);
    for (let j = 0; j < JOBS; j++) await client.registerJob(stormJobSpec(j, 0, JOB), 'json');
    let over = false;
    const updates = (async () => {
      while (!over) {
        for (let j = 0; j < JOBS && !over; j++) await whileRestarting(() => client.registerJob(stormJobSpec(j, ++versions[j], JOB), 'json'));
        await sleep(300);
      }
    })();
    for (let k = 0; k < KILLS; k++) {
      await sleep(1500 + Math.random() * 1500);
      await server.kill9();
      server = await startServer(path.join(dir, 'server'), server.port);
    }
    over = true;
    await updates;
    assert.ok(versions.every((v) => v >= 3), `the storm updated every job several times (${versions.join(', ')})`);
    const last = { c: judge([], COUNT, []) };
    await eventually(
      'every job to run exactly its latest version, one process per allocation',
      async () => {
        last.c = judge(await view(client), COUNT, markedProcesses(MARK));
        return clean(last.c);
      },
      60_000,
    ).catch((err: Error) => assert.fail(`${err.message}\n${JSON.stringify(last.c)}\nagent: ${agent.logs().slice(-3000)}`));
    // And it stays so: nothing started late, nothing stopped late.
    await sleep(2000);
    assert.deepEqual(judge(await view(client), COUNT, markedProcesses(MARK)), last.c);
    assert.equal(markedProcesses(MARK).length, JOBS * COUNT);
  });
});
