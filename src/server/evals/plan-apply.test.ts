import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, type TestContext } from 'node:test';
import type { Allocation, Node, Plan } from '../../model/index.ts';
import { MemoryBackend, SqliteBackend, StateStore, StateView, type StateBackend } from '../../state/index.ts';
import { FakeClock, mockAlloc, mockNode } from '../../testing/index.ts';
import { PlanApplier } from './plan-apply.ts';
import { ServerMetrics } from '../metrics.ts';

const NOW = 1_700_000_000_000;
const clock = new FakeClock(NOW);

/** A real view and store over `backend`, a plan applier on them, and the nodes and allocations given. */
async function setup(t: TestContext, seed: { nodes?: Node[]; allocs?: Allocation[] } = {}, backend: StateBackend = new MemoryBackend()) {
  const view = await StateView.open(backend);
  const store = new StateStore(backend, view);
  const metrics = new ServerMetrics();
  const applier = new PlanApplier({ view, store, clock, metrics });
  t.after(async () => {
    await view.close();
    await backend.close();
  });
  const writes = [
    ...(seed.nodes ?? []).map((n) => ({ table: 'nodes' as const, id: n.id, value: n })),
    ...(seed.allocs ?? []).map((a) => ({ table: 'allocs' as const, id: a.id, value: a })),
  ];
  if (writes.length > 0) assert.equal((await store.commit(writes)).ok, true);
  return { view, store, applier, metrics };
}

function plan(overrides: Partial<Plan> = {}): Plan {
  return { evalId: 'eval-1', jobId: 'web', place: [], stop: [], failures: [], ...overrides };
}

/** An allocation the scheduler wants placed: pending, sized as asked. */
function placement(nodeId: string, memoryMiB: number, overrides: Partial<Allocation> = {}): Allocation {
  return mockAlloc({ nodeId, clientStatus: 'pending', resources: { cpu: 0.1, memoryMiB }, createTime: 1, modifyTime: 1, ...overrides });
}

describe('plan applier', () => {
  it('commits every placement that fits, stamped with the time it was applied', async (t) => {
    const node = mockNode();
    const { view, applier } = await setup(t, { nodes: [node] });
    const a = placement(node.id, 256);
    const b = placement(node.id, 256);

    const result = await applier.apply(plan({ place: [a, b] }));

    assert.deepEqual([result.placed.sort(), result.rejected], [[a.id, b.id].sort(), []]);
    assert.equal(result.index, view.index);
    assert.deepEqual(
      view.allocsByNode(node.id).map((x) => [x.id, x.createTime, x.modifyTime]),
      [a, b].sort((x, y) => x.id.localeCompare(y.id)).map((x) => [x.id, NOW, NOW]),
    );
  });

  it('rejects a placement whose memory a concurrent plan took first, and commits the rest of the plan', async (t) => {
    const small = mockNode({ resources: { cpu: 4, memoryMiB: 1024 } });
    const other = mockNode({ resources: { cpu: 4, memoryMiB: 1024 } });
    const { view, applier, metrics } = await setup(t, { nodes: [small, other] });
    // Two workers planned on the same snapshot: both saw 1024 MiB free on `small`.
    const first = placement(small.id, 768);
    const late = placement(small.id, 512);
    const elsewhere = placement(other.id, 512);

    const [r1, r2] = await Promise.all([applier.apply(plan({ evalId: 'e1', place: [first] })), applier.apply(plan({ evalId: 'e2', place: [late, elsewhere] }))]);

    assert.deepEqual(r1.placed, [first.id]);
    assert.deepEqual([r2.placed, r2.rejected], [[elsewhere.id], [late.id]]);
    assert.deepEqual(view.allocsByNode(small.id).map((a) => a.id), [first.id]);
    assert.deepEqual(view.allocsByNode(other.id).map((a) => a.id), [elsewhere.id]);
    assert.equal(view.alloc(late.id), undefined);
    assert.equal((await metrics.allocsRejected.get()).values[0]?.value, 1);
  });

  it('checks a plan against the placements of plans sent before it that the view does not show yet', async (t) => {
    // A view that lags its backend by 50 ms, as one following etcd through a watch does.
    const backend = new MemoryBackend();
    const watch = backend.watch.bind(backend);
    backend.watch = (selector, callback, options) => watch(selector, (batch) => void setTimeout(() => callback(batch), 50), options);
    const small = mockNode({ resources: { cpu: 4, memoryMiB: 1024 } });
    const { view, applier } = await setup(t, { nodes: [small] }, backend);
    const first = placement(small.id, 768);
    const late = placement(small.id, 512);
    const p1 = applier.apply(plan({ evalId: 'e1', place: [first] }));
    const p2 = applier.apply(plan({ evalId: 'e2', place: [late] }));
    const r1 = await p1;
    assert.deepEqual(r1.placed, [first.id]);
    assert.ok(view.alloc(first.id), 'a result is given once the view shows it');
    const r2 = await p2;
    assert.deepEqual([r2.placed, r2.rejected], [[], [late.id]], 'the second plan saw the first one in flight');
    assert.deepEqual(view.allocsByNode(small.id).map((a) => a.id), [first.id]);
  });

  it('rejects a placement when the cpu left on the node is too little, and takes one that fits exactly', async (t) => {
    const node = mockNode({ resources: { cpu: 1, memoryMiB: 8192 } });
    const running = mockAlloc({ nodeId: node.id, resources: { cpu: 0.7, memoryMiB: 64 } });
    const { applier } = await setup(t, { nodes: [node], allocs: [running] });
    const tooBig = placement(node.id, 64, { resources: { cpu: 0.4, memoryMiB: 64 } });
    const exact = placement(node.id, 64, { resources: { cpu: 0.3, memoryMiB: 64 } });

    const result = await applier.apply(plan({ place: [tooBig, exact] }));

    assert.deepEqual([result.placed, result.rejected], [[exact.id], [tooBig.id]]);
  });

  it('rejects a placement that asks for a host port already given on the node, in the state or earlier in the plan', async (t) => {
    const node = mockNode();
    const holder = mockAlloc({ nodeId: node.id, ports: [{ label: 'http', value: 8080, to: 8080 }] });
    const { view, applier } = await setup(t, { nodes: [node], allocs: [holder] });
    const clash = placement(node.id, 64, { ports: [{ label: 'http', value: 8080, to: 8080 }] });
    const free = placement(node.id, 64, { ports: [{ label: 'http', value: 8081, to: 8081 }] });
    const clashInPlan = placement(node.id, 64, { ports: [{ label: 'http', value: 8081, to: 8081 }] });

    const result = await applier.apply(plan({ place: [clash, free, clashInPlan] }));

    assert.deepEqual(result.placed, [free.id]);
    assert.deepEqual(result.rejected.sort(), [clash.id, clashInPlan.id].sort());
    assert.deepEqual(view.allocsByNode(node.id).map((a) => a.id).sort(), [holder.id, free.id].sort());
  });

  it('marks stopped allocations desired-stop with the reason, leaving what the agent reported', async (t) => {
    const node = mockNode();
    const running = mockAlloc({ nodeId: node.id });
    const alreadyStopped = mockAlloc({ nodeId: node.id, desiredStatus: 'stop', desiredDescription: 'scaled down' });
    const { view, applier } = await setup(t, { nodes: [node], allocs: [running, alreadyStopped] });

    const result = await applier.apply(
      plan({
        stop: [
          { allocId: running.id, description: 'job stopped' },
          { allocId: alreadyStopped.id, description: 'job stopped' },
          { allocId: 'gone-long-ago', description: 'job stopped' },
        ],
      }),
    );

    assert.deepEqual(result.stopped, [running.id]);
    const after = view.alloc(running.id);
    assert.deepEqual([after?.desiredStatus, after?.desiredDescription, after?.clientStatus, after?.modifyTime], ['stop', 'job stopped', 'running', NOW]);
    assert.equal(view.alloc(alreadyStopped.id)?.desiredDescription, 'scaled down');
  });

  it('rejects placements on a node that is down, ineligible or unknown, and writes nothing', async (t) => {
    const down = mockNode({ status: 'down' });
    const ineligible = mockNode({ eligible: false });
    const { view, applier } = await setup(t, { nodes: [down, ineligible] });
    const before = view.index;
    const allocs = [placement(down.id, 64), placement(ineligible.id, 64), placement('node-that-left', 64)];

    const result = await applier.apply(plan({ place: allocs }));

    assert.deepEqual([result.placed, result.rejected.sort()], [[], allocs.map((a) => a.id).sort()]);
    assert.equal(view.index, before);
    assert.equal(result.index, before);
    assert.equal(view.allocs().length, 0);
  });

  it('counts rejected allocations in its metrics even when nothing of the plan could be committed', async (t) => {
    const down = mockNode({ status: 'down' });
    const { applier, metrics } = await setup(t, { nodes: [down] });

    await applier.apply(plan({ place: [placement(down.id, 64), placement(down.id, 64)] }));

    assert.equal((await metrics.allocsRejected.get()).values[0]?.value, 2);
  });

  it('lets a placement use the room freed by an allocation the same plan stops', async (t) => {
    const node = mockNode({ resources: { cpu: 4, memoryMiB: 1024 } });
    const old = mockAlloc({ nodeId: node.id, resources: { cpu: 1, memoryMiB: 1024 }, ports: [{ label: 'http', value: 8080, to: 8080 }] });
    const { view, applier } = await setup(t, { nodes: [node], allocs: [old] });
    const replacement = placement(node.id, 1024, { ports: [{ label: 'http', value: 8080, to: 8080 }] });

    const without = await applier.apply(plan({ place: [placement(node.id, 1024)] }));
    const result = await applier.apply(plan({ stop: [{ allocId: old.id, description: 'replaced by job version 1' }], place: [replacement] }));

    assert.equal(without.rejected.length, 1);
    assert.deepEqual([result.stopped, result.placed, result.rejected], [[old.id], [replacement.id], []]);
    assert.equal(view.alloc(old.id)?.desiredStatus, 'stop');
    assert.equal(view.alloc(replacement.id)?.nodeId, node.id);
  });

  it('does not count allocations that finished or were told to stop against the node', async (t) => {
    const node = mockNode({ resources: { cpu: 4, memoryMiB: 1024 } });
    const finished = mockAlloc({ nodeId: node.id, clientStatus: 'complete', resources: { cpu: 1, memoryMiB: 1024 } });
    const stopping = mockAlloc({ nodeId: node.id, desiredStatus: 'stop', resources: { cpu: 1, memoryMiB: 1024 } });
    const { applier } = await setup(t, { nodes: [node], allocs: [finished, stopping] });
    const fresh = placement(node.id, 1024);

    assert.deepEqual((await applier.apply(plan({ place: [fresh] }))).placed, [fresh.id]);
  });

  it('re-checks a stop against an agent report written meanwhile instead of overwriting it', async (t) => {
    const node = mockNode();
    const running = mockAlloc({ nodeId: node.id, clientStatus: 'pending' });
    const { view, store, applier } = await setup(t, { nodes: [node], allocs: [running] });

    // The agent's report reaches the backend while the applier still reads the older row.
    const stopping = applier.apply(plan({ stop: [{ allocId: running.id, description: 'job stopped' }] }));
    const report = store.commit([{ table: 'allocs', id: running.id, value: { ...running, clientStatus: 'running' }, ifModRevision: view.modRevision('allocs', running.id) }]);
    const [result, reported] = await Promise.all([stopping, report]);

    assert.equal(reported.ok, true);
    assert.deepEqual(result.stopped, [running.id]);
    assert.deepEqual([view.alloc(running.id)?.desiredStatus, view.alloc(running.id)?.clientStatus], ['stop', 'running']);
  });

  it('keeps committed placements across a restart on the SQLite backend', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-plan-apply-'));
    t.after(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'state.db');
    const node = mockNode({ resources: { cpu: 4, memoryMiB: 1024 } });
    const alloc = placement(node.id, 1024);
    {
      const backend = await SqliteBackend.open(file);
      const view = await StateView.open(backend);
      const applier = new PlanApplier({ view, store: new StateStore(backend, view), clock });
      await new StateStore(backend, view).commit([{ table: 'nodes', id: node.id, value: node }]);
      assert.deepEqual((await applier.apply(plan({ place: [alloc] }))).placed, [alloc.id]);
      await view.close();
      await backend.close();
    }

    const { view, applier } = await setup(t, {}, await SqliteBackend.open(file));
    assert.deepEqual(view.allocsByNode(node.id).map((a) => [a.id, a.createTime]), [[alloc.id, NOW]]);
    // The reopened state still holds the node full: the same room cannot be given twice.
    assert.equal((await applier.apply(plan({ place: [placement(node.id, 1)] }))).rejected.length, 1);
  });
});
