import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { KeySelector, StateBackend, WatchCallback, WatchOptions, Watcher } from './backend.ts';
import { alloc, evaluation, job, node, testBackends } from './fixtures.test-helper.ts';
import { MemoryBackend } from './memory-backend.ts';
import { StateStore } from './store.ts';
import { keyOf } from './tables.ts';
import { StateView, type TableChange } from './view.ts';

const ids = (rows: { id: string }[]) => rows.map((r) => r.id);

for (const { name, open } of testBackends) {
  describe(`state view on ${name}`, () => {
    const using = (fn: (b: StateBackend, view: StateView, store: StateStore) => Promise<void>) => async () => {
      const t = await open();
      const view = await StateView.open(t.backend);
      try {
        await fn(t.backend, view, new StateStore(t.backend, view));
      } finally {
        await view.close();
        await t.cleanup();
      }
    };

    it('loads every table at open and then follows writes made on the backend directly', async () => {
      const t = await open();
      await t.backend.put(keyOf('jobs', 'web'), JSON.stringify(job('web')));
      await t.backend.put(keyOf('nodes', 'n1'), JSON.stringify(node('n1')));
      await t.backend.put(keyOf('allocs', 'a1'), JSON.stringify(alloc('a1', 'web', 'n1')));
      const view = await StateView.open(t.backend);
      assert.equal(view.index, await t.backend.revision());
      assert.deepEqual([view.job('web')?.id, ids(view.nodes()), ids(view.allocsByNode('n1'))], ['web', ['n1'], ['a1']]);

      await t.backend.put(keyOf('evals', 'e1'), JSON.stringify(evaluation('e1', 'web')));
      const { revision } = await t.backend.delete({ key: keyOf('allocs', 'a1') });
      assert.equal(await view.waitForIndex(revision, 2000), true);
      assert.deepEqual([ids(view.evalsByJob('web')), view.alloc('a1'), view.allocsByJob('web')], [['e1'], undefined, []]);
      await view.close();
      await t.cleanup();
    });

    it('has the writes made through the store as soon as the commit resolves', using(async (_b, view, store) => {
      const result = await store.commit([
        { table: 'jobs', id: 'web', value: job('web') },
        { table: 'allocs', id: 'a1', value: alloc('a1', 'web', 'n1') },
      ]);
      assert.ok(result.ok);
      assert.equal(view.index, result.index);
      assert.deepEqual([view.job('web')?.id, ids(view.allocsByJob('web'))], ['web', ['a1']]);
    }));

    it('advances its index for berth keys outside its tables and ignores them', using(async (b, view) => {
      const revision = await b.put('/berth/kv/some/key', 'value');
      assert.equal(await view.waitForIndex(revision, 2000), true);
      assert.deepEqual(view.jobs(), []);
    }));

    it('keeps allocations by node and by job right when one is put, moved and deleted', using(async (_b, view, store) => {
      await store.commit([
        { table: 'allocs', id: 'a1', value: alloc('a1', 'j1', 'n1') },
        { table: 'allocs', id: 'a2', value: alloc('a2', 'j1', 'n1') },
      ]);
      assert.deepEqual([ids(view.allocsByNode('n1')), ids(view.allocsByJob('j1'))], [['a1', 'a2'], ['a1', 'a2']]);
      await store.commit([{ table: 'allocs', id: 'a1', value: alloc('a1', 'j2', 'n2', { clientStatus: 'running' }) }]);
      assert.deepEqual([ids(view.allocsByNode('n1')), ids(view.allocsByNode('n2'))], [['a2'], ['a1']]);
      assert.deepEqual([ids(view.allocsByJob('j1')), ids(view.allocsByJob('j2'))], [['a2'], ['a1']]);
      assert.equal(view.allocsByNode('n2')[0].clientStatus, 'running');
      await store.commit([{ table: 'allocs', id: 'a2', value: null }]);
      assert.deepEqual([view.allocsByNode('n1'), view.allocsByJob('j1'), ids(view.allocs())], [[], [], ['a1']]);
    }));

    it('lists job versions newest first and reads one by number', using(async (_b, view, store) => {
      await store.commit([2, 10, 1].map((v) => ({ table: 'jobVersions' as const, id: `web/${v}`, value: job('web', { version: v }) })));
      await store.commit([{ table: 'jobVersions', id: 'webx/3', value: job('webx', { version: 3 }) }]);
      assert.deepEqual(view.jobVersions('web').map((j) => j.version), [10, 2, 1]);
      assert.equal(view.jobVersion('web', 2)?.version, 2);
      assert.equal(view.jobVersion('web', 3), undefined);
      assert.equal(view.modRevision('jobVersions', 'web/10') > 0, true);
    }));

    it('returns lists sorted by id and rows deep-frozen', using(async (_b, view, store) => {
      await store.commit(['n3', 'n1', 'n2'].map((id) => ({ table: 'nodes' as const, id, value: node(id) })));
      assert.deepEqual(ids(view.nodes()), ['n1', 'n2', 'n3']);
      const n1 = view.node('n1')!;
      assert.throws(() => {
        (n1 as { status: string }).status = 'down';
      }, TypeError);
      assert.throws(() => {
        n1.resources.cpu = 99;
      }, TypeError);
    }));

    it('keeps a snapshot unchanged while the view applies later writes', using(async (_b, view, store) => {
      await store.commit([
        { table: 'jobs', id: 'web', value: job('web') },
        { table: 'nodes', id: 'n1', value: node('n1') },
        { table: 'allocs', id: 'a1', value: alloc('a1', 'web', 'n1') },
        { table: 'evals', id: 'e1', value: evaluation('e1', 'web') },
      ]);
      const snap = view.snapshot();
      assert.equal(view.snapshot(), snap, 'an unchanged view hands out the same snapshot');
      await store.commit([
        { table: 'jobs', id: 'web', value: job('web', { version: 1 }) },
        { table: 'nodes', id: 'n2', value: node('n2') },
        { table: 'allocs', id: 'a1', value: alloc('a1', 'web', 'n2') },
        { table: 'allocs', id: 'a2', value: alloc('a2', 'web', 'n1') },
        { table: 'evals', id: 'e1', value: null },
      ]);
      assert.equal(snap.job('web')?.version, 0);
      assert.deepEqual([ids(snap.nodes()), ids(snap.allocsByNode('n1')), ids(snap.allocsByNode('n2'))], [['n1'], ['a1'], []]);
      assert.deepEqual([ids(snap.allocsByJob('web')), snap.alloc('a1')?.nodeId, snap.eval('e1')?.id], [['a1'], 'n1', 'e1']);
      const later = view.snapshot();
      assert.ok(later.index > snap.index);
      assert.deepEqual([ids(later.nodes()), ids(later.allocsByNode('n1')), ids(later.allocsByNode('n2'))], [['n1', 'n2'], ['a2'], ['a1']]);
      assert.equal(later.eval('e1'), undefined);
    }));

    it('reports the last revision that changed each table', using(async (b, view, store) => {
      const start = view.index;
      assert.deepEqual([view.tableIndex('jobs'), view.tableIndex('nodes')], [start, start]);
      const r1 = await store.commit([{ table: 'jobs', id: 'web', value: job('web') }]);
      const r2 = await store.commit([{ table: 'nodes', id: 'n1', value: node('n1') }]);
      assert.ok(r1.ok && r2.ok);
      assert.deepEqual([view.tableIndex('jobs'), view.tableIndex('nodes'), view.tableIndex('allocs')], [r1.index, r2.index, start]);
      const r3 = await b.put('/berth/kv/x', '1');
      await view.waitForIndex(r3, 2000);
      assert.deepEqual([view.tableIndex('jobs'), view.tableIndex('nodes')], [r1.index, r2.index]);
    }));

    it("moves a node's and a job's alloc index only for their own allocations", using(async (_b, view, store) => {
      const start = view.index;
      const r1 = await store.commit([{ table: 'allocs', id: 'a1', value: alloc('a1', 'j1', 'n1') }]);
      const r2 = await store.commit([{ table: 'allocs', id: 'a2', value: alloc('a2', 'j2', 'n2') }]);
      const r3 = await store.commit([{ table: 'nodes', id: 'n1', value: node('n1') }]);
      assert.ok(r1.ok && r2.ok && r3.ok);
      assert.deepEqual([view.nodeAllocsIndex('n1'), view.nodeAllocsIndex('n2'), view.nodeAllocsIndex('n3')], [r1.index, r2.index, start]);
      assert.deepEqual([view.jobAllocsIndex('j1'), view.jobAllocsIndex('j2')], [r1.index, r2.index]);
      const moved = await store.commit([{ table: 'allocs', id: 'a1', value: alloc('a1', 'j1', 'n3') }]);
      assert.ok(moved.ok);
      assert.deepEqual([view.nodeAllocsIndex('n1'), view.nodeAllocsIndex('n3'), view.nodeAllocsIndex('n2')], [moved.index, moved.index, r2.index]);
      const deleted = await store.commit([{ table: 'allocs', id: 'a2', value: null }]);
      assert.ok(deleted.ok);
      assert.deepEqual([view.nodeAllocsIndex('n2'), view.jobAllocsIndex('j2'), view.jobAllocsIndex('j1')], [deleted.index, deleted.index, moved.index]);
    }));

    it('resolves waitForIndex once the index is applied, and false on timeout', using(async (b, view) => {
      const next = view.index + 1;
      const waiting = view.waitForIndex(next, 2000);
      assert.equal(await view.waitForIndex(next + 5, 20), false);
      assert.equal(await view.waitForIndex(view.index, 0), true);
      await b.put(keyOf('jobs', 'web'), JSON.stringify(job('web')));
      assert.equal(await waiting, true);
    }));

    it('tells listeners which rows each revision changed until they unsubscribe', using(async (_b, view, store) => {
      const seen: [number, TableChange[]][] = [];
      const unsubscribe = view.onChange((revision, changes) => seen.push([revision, changes]));
      const r1 = await store.commit([
        { table: 'jobs', id: 'web', value: job('web') },
        { table: 'jobVersions', id: 'web/3', value: job('web', { version: 3 }) },
      ]);
      const r2 = await store.commit([{ table: 'jobs', id: 'web', value: null }]);
      unsubscribe();
      await store.commit([{ table: 'jobs', id: 'db', value: job('db') }]);
      assert.ok(r1.ok && r2.ok);
      assert.deepEqual(seen, [
        [r1.index, [{ table: 'jobs', id: 'web', type: 'put' }, { table: 'jobVersions', id: 'web/3', type: 'put' }]],
        [r2.index, [{ table: 'jobs', id: 'web', type: 'delete' }]],
      ]);
    }));

    it('leaves out a row that is not valid JSON and reports it', async () => {
      const t = await open();
      const errors: Error[] = [];
      const view = await StateView.open(t.backend, { onError: (err) => errors.push(err) });
      const revision = await t.backend.put(keyOf('jobs', 'bad'), '{not json');
      await view.waitForIndex(revision, 2000);
      assert.equal(view.job('bad'), undefined);
      assert.match(errors[0]?.message ?? '', /^Cannot read jobs "bad" at revision \d+: /);
      await view.close();
      await t.cleanup();
    });
  });
}

/** A memory backend whose watches can be made to fail, as a lost etcd connection would. */
class FlakyBackend extends MemoryBackend {
  private failers: ((err: Error) => void)[] = [];

  override async watch(selector: KeySelector, callback: WatchCallback, options: WatchOptions = {}): Promise<Watcher> {
    const watcher = await super.watch(selector, callback, options);
    if (options.onError) this.failers.push(options.onError);
    return watcher;
  }

  breakWatches(): void {
    for (const fail of this.failers.splice(0)) fail(new Error('connection lost'));
  }
}

describe('state view recovery', () => {
  it('reloads everything and watches again after losing its watch', async () => {
    const backend = new FlakyBackend();
    const errors: Error[] = [];
    const view = await StateView.open(backend, { onError: (err) => errors.push(err) });
    const store = new StateStore(backend, view);
    await store.commit([
      { table: 'jobs', id: 'keep', value: job('keep') },
      { table: 'jobs', id: 'gone', value: job('gone') },
    ]);
    const changes: TableChange[] = [];
    view.onChange((_r, c) => changes.push(...c));
    backend.breakWatches();
    // Writes while the view is not watching: it must catch up on them by reloading.
    await backend.delete({ key: keyOf('jobs', 'gone') });
    const revision = await backend.put(keyOf('jobs', 'new'), JSON.stringify(job('new')));
    assert.equal(await view.waitForIndex(revision, 3000), true);
    assert.deepEqual(ids(view.jobs()), ['keep', 'new']);
    assert.deepEqual(changes.map((c) => [c.id, c.type]).sort(), [['gone', 'delete'], ['new', 'put']]);
    assert.match(errors[0].message, /connection lost/);
    const after = await store.commit([{ table: 'jobs', id: 'later', value: job('later') }]);
    assert.ok(after.ok);
    assert.equal(view.job('later')?.id, 'later');
    await view.close();
    await backend.close();
  });
});
