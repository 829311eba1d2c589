import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Allocation } from '../../src/model/index.ts';
import { eventually } from '../harness/berth.ts';
import { etcdSkipReason } from '../../src/testing/index.ts';
import { startHaCluster, type HaCluster } from '../harness/ha.ts';

/**
 * Three `berth server --etcd` processes on a real three-member etcd cluster, two agents and a
 * client that knows every server: losing an etcd member under a stream of writes fails none of
 * them, and restarting every server loses nothing.
 */
let ha: HaCluster;
const root = path.resolve(import.meta.dirname, '../..');

/** A Consul-route request through the client's server list; returns the answer's text, or throws with the status. */
async function consul(method: 'GET' | 'PUT', path: string, body?: string): Promise<string> {
  const res = await ha.client.servers.fetch(path, { method, body, timeoutMs: 10_000 });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path} answered ${res.status}: ${text}`);
  return text;
}

/** A service job with no instances: registering it is one write of a job version and an evaluation. */
function emptyJob(id: string, meta: string): object {
  return { id, type: 'service', meta: { n: meta }, groups: [{ name: 'g', count: 0, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/true' } }] }] };
}

/** What a user would list: jobs, allocations, KV entries and sessions, in a stable order. */
async function listing(): Promise<unknown> {
  const jobs = (await ha.client.listJobs()).value.map((j) => ({ id: j.id, version: j.version, status: j.status })).sort((a, b) => a.id.localeCompare(b.id));
  const allocs: Partial<Allocation>[] = [];
  for (const j of jobs) {
    for (const a of (await ha.client.jobAllocations(j.id)).value) allocs.push({ id: a.id, name: a.name, nodeId: a.nodeId, jobVersion: a.jobVersion, desiredStatus: a.desiredStatus, clientStatus: a.clientStatus });
  }
  allocs.sort((a, b) => a.id!.localeCompare(b.id!));
  const kv = (JSON.parse(await consul('GET', '/v1/kv/keep/?recurse')) as { Key: string; Value: string; Session?: string; ModifyIndex: number }[]).map((e) => ({ key: e.Key, value: e.Value, session: e.Session, modifyIndex: e.ModifyIndex }));
  const sessions = (JSON.parse(await consul('GET', '/v1/session/list')) as { ID: string; Name: string; TTL: string }[]).map((s) => ({ id: s.ID, name: s.Name, ttl: s.TTL })).sort((a, b) => a.id.localeCompare(b.id));
  return { jobs, allocs, kv, sessions };
}

describe('several servers on etcd: resilience', { timeout: 240_000, skip: etcdSkipReason() }, () => {
  before(async () => {
    ha = await startHaCluster({ servers: 3, agents: 2, etcdMembers: 3 });
    await ha.leader();
  });
  after(async () => {
    await ha?.client.stopJob('keep', true).catch(() => undefined);
    await sleep(1_000);
    await ha?.stop();
  });

  it('loses no write while one etcd member is down: every job registration and KV PUT succeeds and reads back', async () => {
    const failures: string[] = [];
    const done = { jobs: 0, keys: 0, whileDown: 0 };
    let down = false;
    let stopping = false;
    const writer = (async () => {
      for (let i = 0; !stopping; i++) {
        try {
          if (i % 2 === 0) {
            await ha.client.registerJob(emptyJob(`w-${i}`, String(i)), 'json');
            done.jobs++;
          } else {
            const answer = await consul('PUT', `/v1/kv/ha/k-${i}`, `v-${i}`);
            if (answer.trim() !== 'true') throw new Error(`PUT /v1/kv/ha/k-${i} answered ${answer}`);
            done.keys++;
          }
          if (down) done.whileDown++;
        } catch (err) {
          failures.push(`write ${i}: ${(err as Error).message}`);
        }
      }
    })();
    await sleep(3_000);
    // The raft leader: its loss forces an election as well as a reconnection.
    const member = await ha.etcd.leader();
    await ha.stopEtcdMember(member);
    down = true;
    await sleep(8_000);
    down = false;
    await ha.startEtcdMember(member);
    await sleep(2_000);
    stopping = true;
    await writer;
    process.stderr.write(`writes: ${done.jobs} jobs, ${done.keys} keys, ${done.whileDown} while etcd member ${member} was down\n`);
    assert.deepEqual(failures, []);
    assert.ok(done.whileDown >= 5, `only ${done.whileDown} writes completed while the member was down`);
    // Every write reads back, through every server.
    for (const url of ha.urls) {
      const jobs = new Set((await (await fetch(`${url}/v1/jobs`)).json() as { id: string }[]).map((j) => j.id));
      const keys = new Set((await (await fetch(`${url}/v1/kv/ha/?keys`)).json() as string[]));
      assert.equal([...jobs].filter((id) => id.startsWith('w-')).length, done.jobs, `jobs on ${url}`);
      assert.equal(keys.size, done.keys, `keys on ${url}`);
    }
  });

  it('keeps jobs, allocations, KV and sessions when every server restarts, and elects a new leader', async () => {
    await ha.client.registerJob(
      { id: 'keep', type: 'service', groups: [{ name: 'g', count: 2, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sleep', args: ['600'] }, resources: { cpu: '20m', memory: '8Mi' } }] }] },
      'json',
    );
    await eventually('two running allocations', async () => (await ha.client.jobAllocations('keep')).value.filter((a) => a.clientStatus === 'running').length === 2, 30_000);
    const session = (JSON.parse(await consul('PUT', '/v1/session/create', JSON.stringify({ Name: 'keeper', TTL: '300s' }))) as { ID: string }).ID;
    await consul('PUT', '/v1/kv/keep/config', 'a=1');
    assert.equal((await consul('PUT', `/v1/kv/keep/lock?acquire=${session}`, 'me')).trim(), 'true');
    const before = await listing();
    const oldLeader = await ha.leader();

    const restartedAt = Date.now();
    await Promise.all(ha.servers.map((_, i) => ha.stopServer(i)));
    await Promise.all(ha.servers.map((_, i) => ha.startServer(i)));
    const leader = await ha.leader();
    const servers = (await (await fetch(`${leader.addr}/v1/servers`)).json()) as { name: string; leader: boolean; startedAt: string }[];
    const started = servers.find((s) => s.leader)!.startedAt;
    assert.ok(Date.parse(started) >= restartedAt - 1_000, `the leader ${leader.name} (was ${oldLeader.name}) started at ${started}, before the restart`);

    assert.deepEqual(await listing(), before);
    // The lock is still held by the same session, and the nodes stayed up.
    const lock = JSON.parse(await consul('GET', '/v1/kv/keep/lock')) as { Session?: string }[];
    assert.equal(lock[0].Session, session);
    const nodes = (await ha.client.listNodes()).value;
    assert.deepEqual(nodes.map((n) => [n.name, n.status]).sort(), [['n1', 'ready'], ['n2', 'ready']]);
    // The new leader schedules: scaling up places and runs one more.
    await ha.client.scaleJob('keep', 'g', 3);
    await eventually('three running allocations', async () => (await ha.client.jobAllocations('keep')).value.filter((a) => a.clientStatus === 'running').length === 3, 30_000);
  });

  it('keeps agents and an event stream working through the last server when the two others are killed with SIGKILL', async (t) => {
    // `berth event stream` given every server: it reads from s0, the first.
    const stream = spawn(process.execPath, [path.join(root, 'bin/berth.js'), 'event', 'stream', '--topic', 'KV'], { env: { ...process.env, BERTH_ADDR: ha.urls.join(',') }, stdio: ['ignore', 'pipe', 'pipe'] });
    t.after(() => void stream.kill('SIGKILL'));
    let printed = '';
    stream.stdout.on('data', (d: Buffer) => (printed += d));
    await eventually('the stream printing a KV write', async () => {
      await consul('PUT', '/v1/kv/ev/before', 'x');
      return printed.includes('ev/before');
    }, 30_000);
    const killedAt = Date.now();
    await Promise.all([ha.kill9(0), ha.kill9(1)]);
    const leader = await ha.leader();
    assert.equal(leader.name, 's2');
    await consul('PUT', '/v1/kv/ev/after', 'y');
    await eventually('the stream, resumed on s2, printing the write made after the kill', async () => printed.includes('ev/after'), 30_000);
    // Work pinned to each node is placed, started and reported running: both agents watch and report through s2.
    for (const name of ['n1', 'n2']) {
      await ha.client.registerJob(
        { id: `on-${name}`, type: 'service', constraints: [{ attribute: '${node.unique.name}', value: name }], groups: [{ name: 'g', count: 1, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sleep', args: ['600'] }, resources: { cpu: '20m', memory: '8Mi' } }] }] },
        'json',
      );
    }
    for (const name of ['n1', 'n2']) {
      await eventually(`the allocation on ${name} running`, async () => (await ha.client.jobAllocations(`on-${name}`)).value.some((a) => a.clientStatus === 'running'), 30_000);
    }
    // Past the heartbeat TTL (10 s) and grace (5 s) the new leader gave every node, the nodes are
    // still ready: their heartbeats reach s2.
    await sleep(Math.max(0, killedAt + 25_000 - Date.now()));
    const nodes = (await ha.client.listNodes()).value;
    assert.deepEqual(nodes.map((n) => [n.name, n.status]).sort(), [['n1', 'ready'], ['n2', 'ready']]);
    for (const name of ['n1', 'n2']) await ha.client.stopJob(`on-${name}`, true);
    await Promise.all([ha.startServer(0), ha.startServer(1)]);
  });
});
