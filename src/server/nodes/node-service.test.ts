import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import { SqliteBackend } from '../../state/index.ts';
import { FakeClock } from '../../testing/index.ts';
import type { Allocation, ErrorDetail } from '../../model/index.ts';
import type { HeartbeatResponse } from '../../api/index.ts';
import { eventually, jobYaml, nodeBody, startServer, type TestServer } from '../test-server.test-helper.ts';

/** Heartbeats expire after 200 ms plus 100 ms of grace, so a silent node is down within ~300 ms. */
const heartbeat = { minHeartbeatTtlMs: 200, heartbeatGraceMs: 100 };
/** The TTL has up to 10% jitter: a node's timer runs out between these two, after its last heartbeat. */
const TTL_AND_GRACE_MIN = 200 + 100;
const TTL_AND_GRACE_MAX = 220 + 100;

/** A server with node-a heartbeating and a count-2 job placed on it. */
async function twoAllocsOnNodeA(t: TestContext): Promise<{ s: TestServer; stopA: () => void; onA: Allocation[] }> {
  const s = await startServer(t, { heartbeat });
  await s.registerNode({ id: 'node-a' });
  const stopA = s.keepAlive('node-a');
  await s.ok('POST', '/v1/jobs', jobYaml({ count: 2 }), 'application/yaml');
  const onA = await eventually('2 allocations on node-a', async () => {
    const allocs = await s.nodeAllocs('node-a');
    return allocs.length === 2 ? allocs : undefined;
  });
  return { s, stopA, onA };
}

async function waitForStatus(s: TestServer, nodeId: string, status: string): Promise<void> {
  await eventually(`${nodeId} to be ${status}`, async () => ((await s.node(nodeId)).status === status ? true : undefined));
}

describe('node service', () => {
  it('tells an agent the heartbeat TTL when it registers and heartbeats', async (t) => {
    const s = await startServer(t, { heartbeat });
    const registered = await s.ok<HeartbeatResponse>('PUT', '/v1/nodes/register', nodeBody());
    const beat = await s.ok<HeartbeatResponse>('PUT', '/v1/nodes/node-a/heartbeat');
    // The floor, plus up to 10% jitter so that agents do not heartbeat in step.
    for (const ttl of [registered.heartbeatTtlMs, beat.heartbeatTtlMs]) assert.ok(ttl >= 200 && ttl < 220, `TTL ${ttl}`);
    assert.equal((await s.node('node-a')).status, 'ready');
    assert.equal((await s.request('PUT', '/v1/nodes/ghost/heartbeat')).status, 404);
  });

  it('grows the TTL with the cluster so that heartbeats arrive at about 50 per second', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 1_000 } });
    const writes = Array.from({ length: 600 }, (_, i) => ({ table: 'nodes' as const, id: `n${i}`, value: { ...nodeBody({ id: `n${i}` }), status: 'ready', eligible: true, lastHeartbeat: 0 } }));
    assert.ok((await s.server.store.commit(writes)).ok);
    const { heartbeatTtlMs } = await s.ok<HeartbeatResponse>('PUT', '/v1/nodes/register', nodeBody({ id: 'node-a' }));
    // 601 nodes at 50 per second: each heartbeats every ~12 s, plus up to 10% jitter.
    assert.ok(heartbeatTtlMs >= 12_020 && heartbeatTtlMs < 13_300, `TTL ${heartbeatTtlMs}`);
  });

  it('marks a node that misses its heartbeat down, its allocations lost, and replaces them on a ready node', async (t) => {
    const { s, stopA, onA } = await twoAllocsOnNodeA(t);
    assert.equal((await s.report('node-a', onA, 'running')).status, 200);
    await s.registerNode({ id: 'node-b' });
    s.keepAlive('node-b');

    stopA();
    await waitForStatus(s, 'node-a', 'down');

    const lost = await eventually('the allocations on node-a to be lost', async () => {
      const allocs = await s.nodeAllocs('node-a');
      return allocs.every((a) => a.clientStatus === 'lost') ? allocs : undefined;
    });
    assert.ok(lost.every((a) => /missed its heartbeat/.test(a.clientDescription ?? '') && a.desiredStatus === 'stop'));
    const onB = await eventually('2 replacements on node-b', async () => {
      const allocs = await s.nodeAllocs('node-b');
      return allocs.length === 2 ? allocs : undefined;
    });
    assert.deepEqual(onB.map((a) => a.name).sort(), onA.map((a) => a.name).sort());
    assert.equal((await s.node('node-b')).status, 'ready');
    const summary = await s.summary('web');
    assert.deepEqual([summary.groups.web.lost, summary.groups.web.pending], [2, 2]);
  });

  it('makes a down node ready again when it heartbeats, and places work on it again', async (t) => {
    const clock = new FakeClock();
    const s = await startServer(t, { heartbeat, clock });
    await eventually('the server to lead', async () => (s.server.leading ? true : undefined));
    await s.registerNode({ id: 'node-a' });
    clock.advance(TTL_AND_GRACE_MIN - 1);
    await new Promise((r) => setImmediate(r));
    assert.equal((await s.node('node-a')).status, 'ready', 'not down before its TTL and grace ran out');
    clock.advance(TTL_AND_GRACE_MAX - TTL_AND_GRACE_MIN + 1);
    await waitForStatus(s, 'node-a', 'down');
    await s.ok('POST', '/v1/jobs', jobYaml(), 'application/yaml');
    await eventually('the evaluation to find no ready node', async () => ((await s.summary('web')).latestEval?.failures.length ? true : undefined));

    const beat = await s.request<HeartbeatResponse>('PUT', '/v1/nodes/node-a/heartbeat');
    s.keepAlive('node-a');

    assert.equal(beat.status, 200);
    assert.equal((await s.node('node-a')).status, 'ready');
    // Capacity came back: the job that could not be placed is.
    await eventually('the job to be placed on node-a', async () => ((await s.nodeAllocs('node-a')).length === 1 ? true : undefined));
  });

  it('marks a node down that never heartbeats again after a server restart on SQLite', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-nodes-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'state.db');
    const first = await startServer(t, { backend: await SqliteBackend.open(file), heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await first.registerNode({ id: 'node-a' });
    await first.stop();

    const clock = new FakeClock();
    const second = await startServer(t, { backend: await SqliteBackend.open(file), heartbeat, clock });
    assert.equal((await second.node('node-a')).status, 'ready');
    await eventually('the new server to lead', async () => (second.server.leading ? true : undefined));
    // A new leader gives every ready node at least a full TTL plus grace to check in.
    clock.advance(TTL_AND_GRACE_MIN - 1);
    await new Promise((r) => setImmediate(r));
    assert.equal((await second.node('node-a')).status, 'ready', 'a full TTL from the restart');
    // NodeService.start arms TTL + grace, and #arm adds the grace once more.
    clock.advance(TTL_AND_GRACE_MAX + 100 - (TTL_AND_GRACE_MIN - 1));
    await waitForStatus(second, 'node-a', 'down');
  });

  it('replaces a service allocation once its agent reports that it exited', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await s.registerNode({ id: 'node-a' });
    await s.ok('POST', '/v1/jobs', jobYaml({ count: 2 }), 'application/yaml');
    const first = await eventually('2 allocations', async () => {
      const allocs = await s.nodeAllocs('node-a');
      return allocs.length === 2 ? allocs : undefined;
    });
    await s.report('node-a', first, 'running');

    const [exited] = first;
    assert.equal((await s.report('node-a', [exited], 'complete')).status, 200);

    const replacement = await eventually('a replacement of the exited allocation', async () =>
      (await s.nodeAllocs('node-a')).find((a) => a.name === exited.name && a.id !== exited.id),
    );
    assert.deepEqual([replacement.desiredStatus, replacement.clientStatus], ['run', 'pending']);
    const summary = await s.summary('web');
    assert.deepEqual([summary.groups.web.running, summary.groups.web.pending, summary.groups.web.complete], [1, 1, 1]);
  });

  it('stops the replacements when a node that was marked down comes back with its allocations running', async (t) => {
    const { s, stopA, onA } = await twoAllocsOnNodeA(t);
    await s.report('node-a', onA, 'running');
    await s.registerNode({ id: 'node-b' });
    s.keepAlive('node-b');
    stopA();
    const onB = await eventually('2 replacements on node-b', async () => {
      const allocs = await s.nodeAllocs('node-b');
      return allocs.length === 2 ? allocs : undefined;
    });
    await s.report('node-b', onB, 'running');

    // node-a was only cut off: it heartbeats again and reports what it kept running.
    assert.equal((await s.request('PUT', '/v1/nodes/node-a/heartbeat')).status, 200);
    s.keepAlive('node-a');
    await s.report('node-a', onA, 'running');

    // The originals were given up as lost when node-a went down: they stay stopped.
    const stopped = (await s.nodeAllocs('node-a')).filter((a) => a.desiredStatus === 'stop');
    assert.deepEqual(stopped.map((a) => a.name).sort(), ['web.web[0]', 'web.web[1]']);
    assert.ok(stopped.every((a) => a.desiredDescription === 'node down'));
    const wanted = [...(await s.nodeAllocs('node-a')), ...(await s.nodeAllocs('node-b'))].filter((a) => a.desiredStatus === 'run');
    assert.deepEqual(wanted.map((a) => a.name).sort(), ['web.web[0]', 'web.web[1]']);
  });

  it('refuses a report on an allocation of another node with 400, and leaves the allocation as it was', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await s.registerNode({ id: 'node-a' });
    await s.ok('POST', '/v1/jobs', jobYaml(), 'application/yaml');
    const [alloc] = await eventually('an allocation on node-a', async () => {
      const allocs = await s.nodeAllocs('node-a');
      return allocs.length === 1 ? allocs : undefined;
    });
    await s.registerNode({ id: 'node-b' });

    const res = await s.report('node-b', [alloc], 'failed');

    assert.equal(res.status, 400);
    const body = res.body as unknown as { error: { code: string; message: string; details: ErrorDetail[] } };
    assert.equal(body.error.code, 'invalid_input');
    assert.deepEqual(body.error.details.map((d) => d.path), ['allocs[0].id']);
    assert.match(body.error.message, /node-a/);
    assert.equal((await s.nodeAllocs('node-a'))[0].clientStatus, 'pending');
  });

  it('refuses a report that names one allocation twice, pointing at the second', async (t) => {
    const s = await startServer(t, { heartbeat: { minHeartbeatTtlMs: 60_000 } });
    await s.registerNode({ id: 'node-a' });
    await s.ok('POST', '/v1/jobs', jobYaml(), 'application/yaml');
    const [alloc] = await eventually('an allocation on node-a', async () => {
      const allocs = await s.nodeAllocs('node-a');
      return allocs.length === 1 ? allocs : undefined;
    });

    const res = await s.request<{ error: { details: ErrorDetail[] } }>('PUT', '/v1/nodes/node-a/allocations', {
      allocs: [
        { id: alloc.id, clientStatus: 'running', taskStates: {} },
        { id: alloc.id, clientStatus: 'failed', taskStates: {} },
      ],
    });

    assert.equal(res.status, 400);
    assert.deepEqual(res.body.error.details.map((d) => d.path), ['allocs[1].id']);
    assert.equal((await s.nodeAllocs('node-a'))[0].clientStatus, 'pending');
  });

  it('refuses a report from a node that never registered with 404', async (t) => {
    const s = await startServer(t);
    const res = await s.request('PUT', '/v1/nodes/ghost/allocations', { allocs: [] });
    assert.equal(res.status, 404);
  });
});
