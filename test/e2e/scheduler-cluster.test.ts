import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Allocation, Evaluation, Node } from '../../src/model/index.ts';
import { berth, eventually } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';

/**
 * Three `berth agent` processes (process driver, distinct node names and data dirs) and a fourth
 * that joins later, against one `berth server` with a 1 s heartbeat TTL: where the scheduler puts
 * work, and what it does when an agent dies or a node is drained.
 */
const TTL_MS = 1_000;
const GRACE_MS = 500;

let dir = '';
let server: BerthProcess & { addr: string };
const agents = new Map<string, BerthProcess>();

async function api<T>(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  const res = await fetch(`${server.addr}${url}`, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

async function addAgent(name: string): Promise<void> {
  agents.set(name, await startAgent({ servers: [server.addr], dataDir: path.join(dir, name), nodeName: name, driver: 'process' }));
}

async function nodes(): Promise<Node[]> {
  return api<Node[]>('GET', '/v1/nodes');
}

async function liveAllocs(jobId: string): Promise<Allocation[]> {
  return (await api<Allocation[]>('GET', `/v1/jobs/${jobId}/allocations`)).filter((a) => a.desiredStatus === 'run' && a.clientStatus !== 'lost');
}

/** A job of `count` sleeping processes; the sleep ends on its own, so a killed agent leaves nothing for long. */
function job(id: string, extra: Record<string, unknown> = {}, group: Record<string, unknown> = {}): unknown {
  return {
    id,
    ...extra,
    groups: [{ name: 'g', count: 3, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sleep', args: ['120'] }, resources: { cpu: '50m', memory: '16Mi' } }], ...group }],
  };
}

/** Node name of each running allocation. */
async function placement(jobId: string): Promise<string[]> {
  const byId = new Map((await nodes()).map((n) => [n.id, n.name]));
  return (await liveAllocs(jobId)).filter((a) => a.clientStatus === 'running').map((a) => byId.get(a.nodeId) ?? a.nodeId).sort();
}

describe('scheduler end to end: three agents on one machine', { timeout: 150_000 }, () => {
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-e2e-sched-'));
    server = await startServer(path.join(dir, 'server'), undefined, '127.0.0.1', ['--heartbeat-ttl', `${TTL_MS}ms`, '--heartbeat-grace', `${GRACE_MS}ms`]);
    await Promise.all(['n1', 'n2', 'n3'].map(addAgent));
    await eventually('three ready nodes', async () => (await nodes()).filter((n) => n.status === 'ready').length === 3);
  });

  after(async () => {
    for (const id of ['spread', 'sys', 'drain']) await api('DELETE', `/v1/jobs/${id}`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1_500));
    await Promise.all([...agents.values()].map((a) => a.stop()));
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('distinct_hosts spreads a count-3 group over the three nodes', async () => {
    await api('POST', '/v1/jobs', job('spread', { constraints: [{ operator: 'distinct_hosts' }] }));
    assert.deepEqual(await eventually('3 running', async () => ((await placement('spread')).length === 3 ? placement('spread') : undefined)), ['n1', 'n2', 'n3']);
  });

  it('places a system job once on each node, and on a fourth agent that joins', async () => {
    await api('POST', '/v1/jobs', job('sys', { type: 'system' }));
    await eventually('one per node', async () => JSON.stringify(await placement('sys')) === JSON.stringify(['n1', 'n2', 'n3']));
    await addAgent('n4');
    await eventually('one on n4 too', async () => JSON.stringify(await placement('sys')) === JSON.stringify(['n1', 'n2', 'n3', 'n4']));
  });

  it('replaces the allocations of a killed agent on the others within TTL + 3 s', async () => {
    const victim = (await nodes()).find((n) => n.name === 'n2')!;
    // Only the node's own agent may heartbeat for it: with the secret from its data dir.
    const secret = (await readFile(path.join(dir, 'n2', 'node-secret'), 'utf8')).trim();
    const ttl = (await api<{ heartbeatTtlMs: number }>('PUT', `/v1/nodes/${victim.id}/heartbeat`, undefined, { 'x-berth-node-secret': secret })).heartbeatTtlMs;
    const killedAt = Date.now();
    await agents.get('n2')!.kill9();
    agents.delete('n2');
    const replaced = await eventually('the spread allocation of n2 running elsewhere', async () => {
      const names = await placement('spread');
      return names.length === 3 && !names.includes('n2') ? names : undefined;
    });
    const took = Date.now() - killedAt;
    assert.deepEqual(replaced, ['n1', 'n3', 'n4']);
    assert.ok(took <= ttl + GRACE_MS + 3_000, `replaced after ${took} ms (TTL ${ttl} ms)`);
    assert.equal((await nodes()).find((n) => n.name === 'n2')?.status, 'down');
    // The system job is not moved: its allocation belonged to n2.
    assert.deepEqual(await placement('sys'), ['n1', 'n3', 'n4']);
  });

  it('drains a node through the CLI, moving its allocations no more than max_parallel at a time', async () => {
    const n1 = (await nodes()).find((n) => n.name === 'n1')!;
    // Everything starts on n1: n4 is made ineligible with the CLI, n3 is excluded by a constraint.
    const n4 = (await nodes()).find((n) => n.name === 'n4')!;
    const inel = await berth(['node', 'eligibility', n4.id, '--disable'], { addr: server.addr });
    assert.equal(inel.code, 0, inel.stderr);
    assert.match(inel.stdout, /ineligible/);
    await api('POST', '/v1/jobs', job('drain', { constraints: [{ attribute: '${node.unique.name}', operator: '!=', value: 'n3' }] }, { count: 4, migrate: { max_parallel: 1 } }));
    await eventually('4 running on n1', async () => (await placement('drain')).filter((n) => n === 'n1').length === 4);
    assert.equal((await berth(['node', 'eligibility', n4.id, '--enable'], { addr: server.addr })).code, 0);

    const drained = await berth(['node', 'drain', n1.id, '--deadline', '5m', '--ignore-system'], { addr: server.addr });
    assert.equal(drained.code, 0, drained.stderr);
    assert.match(drained.stdout, /draining/);
    let most = 0;
    await eventually(
      'the drain to move everything to n4',
      async () => {
        const allocs = await api<Allocation[]>('GET', '/v1/jobs/drain/allocations');
        const moving = allocs.filter((a) => a.desiredStatus === 'run' && (a.migrate === true || (a.previousAllocation !== undefined && a.clientStatus === 'pending')));
        most = Math.max(most, moving.length);
        return JSON.stringify(await placement('drain')) === JSON.stringify(['n4', 'n4', 'n4', 'n4']);
      },
      60_000,
    );
    assert.ok(most <= 1, `${most} allocations moving at once, max_parallel 1`);
    // The history says the same: each replacement was made only once the one before it ran.
    const replacements = (await liveAllocs('drain')).filter((a) => a.previousAllocation !== undefined).sort((a, b) => a.createTime - b.createTime);
    assert.equal(replacements.length, 4);
    for (let i = 1; i < replacements.length; i++) {
      const started = replacements[i - 1].taskStates.t?.startedAt ?? Infinity;
      assert.ok(replacements[i].createTime >= started, `replacement ${i} made before replacement ${i - 1} ran`);
    }
    const node = await eventually('the drain to finish', async () => {
      const n = (await nodes()).find((x) => x.name === 'n1')!;
      return n.drain === undefined ? n : undefined;
    });
    assert.equal(node.eligible, false);
    assert.deepEqual(await placement('sys'), ['n1', 'n3', 'n4'], 'ignore-system left the system allocation');
  });

  it('explains with `job plan` why a job would not fit, committing nothing', async () => {
    const file = path.join(dir, 'huge.yaml');
    await writeFile(
      file,
      ['id: huge', 'groups:', '  - name: g', '    count: 2', '    tasks:', '      - name: t', '        driver: process', '        config: {command: /bin/true}', '        resources: {memory: 64Ti}', ''].join('\n'),
    );
    const r = await berth(['job', 'plan', file], { addr: server.addr });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /would become version 0/);
    assert.match(r.stdout, /Cannot place: 2 of group "g": memory exhausted on \d+ of \d+ nodes/);
    assert.equal((await fetch(`${server.addr}/v1/jobs/huge`)).status, 404);
  });

  it('shows evaluations and their placement metrics in the CLI', async () => {
    const evals = await api<Evaluation[]>('GET', '/v1/jobs/spread/evaluations');
    const list = await berth(['eval', 'list', '--job', 'spread'], { addr: server.addr });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /spread/);
    const status = await berth(['eval', 'status', evals[0].id], { addr: server.addr });
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, new RegExp(evals[0].id));
  });
});
