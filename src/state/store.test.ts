import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../model/index.ts';
import type { StateBackend } from './backend.ts';
import { alloc, job, node, testBackends } from './fixtures.test-helper.ts';
import { StateStore, type Write } from './store.ts';
import { keyOf } from './tables.ts';
import { StateView } from './view.ts';

for (const { name, open } of testBackends) {
  describe(`state store on ${name}`, () => {
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

    it('commits many rows as one revision', using(async (b, view, store) => {
      const before = await b.revision();
      const writes: Write[] = Array.from({ length: 200 }, (_, i) => ({ table: 'allocs', id: `a${i}`, value: alloc(`a${i}`, 'web', `n${i % 7}`) }));
      const result = await store.commit(writes);
      assert.deepEqual(result, { ok: true, index: before + 1 });
      assert.equal(view.allocs().length, 200);
      assert.equal(view.allocsByNode('n3').length, 29);
      assert.equal(JSON.parse((await b.range({ key: keyOf('allocs', 'a5') })).kvs[0].value).nodeId, 'n5');
    }));

    it('reports conflicts and writes nothing when a row changed since it was read', using(async (b, view, store) => {
      await store.commit([{ table: 'jobs', id: 'web', value: job('web') }, { table: 'nodes', id: 'n1', value: node('n1') }]);
      const jobRev = view.modRevision('jobs', 'web');
      const nodeRev = view.modRevision('nodes', 'n1');
      await store.commit([{ table: 'jobs', id: 'web', value: job('web', { version: 1 }) }]);
      const before = await b.revision();
      const result = await store.commit([
        { table: 'jobs', id: 'web', value: job('web', { version: 2 }), ifModRevision: jobRev },
        { table: 'nodes', id: 'n1', value: node('n1', { status: 'down' }), ifModRevision: nodeRev },
        { table: 'allocs', id: 'a1', value: alloc('a1', 'web', 'n1') },
      ]);
      assert.deepEqual(result, { ok: false, conflicts: [{ table: 'jobs', id: 'web' }] });
      assert.equal(await b.revision(), before);
      assert.deepEqual([view.job('web')?.version, view.node('n1')?.status, view.alloc('a1')], [1, 'ready', undefined]);
    }));

    it('creates a row only while it does not exist when ifModRevision is 0', using(async (_b, view, store) => {
      const first = await store.commit([{ table: 'nodes', id: 'n1', value: node('n1'), ifModRevision: 0 }]);
      const second = await store.commit([{ table: 'nodes', id: 'n1', value: node('n1', { name: 'other' }), ifModRevision: 0 }]);
      assert.equal(first.ok, true);
      assert.deepEqual(second, { ok: false, conflicts: [{ table: 'nodes', id: 'n1' }] });
      assert.equal(view.node('n1')?.name, 'n1');
    }));

    it('deletes rows written as null, and resolves at once when they are already gone', using(async (_b, view, store) => {
      await store.commit([{ table: 'jobs', id: 'web', value: job('web') }]);
      const rev = view.modRevision('jobs', 'web');
      const deleted = await store.commit([{ table: 'jobs', id: 'web', value: null, ifModRevision: rev }]);
      assert.ok(deleted.ok);
      assert.equal(view.job('web'), undefined);
      assert.equal(view.modRevision('jobs', 'web'), 0);
      assert.deepEqual(await store.commit([{ table: 'jobs', id: 'web', value: null }]), { ok: true, index: deleted.index });
    }));

    it('rebuilds from the fresh view and retries after a conflict', using(async (b, view, store) => {
      await store.commit([{ table: 'jobs', id: 'counter', value: job('counter') }]);
      let builds = 0;
      const result = await store.commitWithRetry((v) => {
        builds++;
        const current = v.job('counter')!;
        if (builds === 1) {
          // A competing writer gets in between this read and the commit.
          void b.put(keyOf('jobs', 'counter'), JSON.stringify(job('counter', { priority: current.priority + 1 })));
        }
        return [{ table: 'jobs', id: 'counter', value: job('counter', { priority: current.priority + 1 }), ifModRevision: v.modRevision('jobs', 'counter') }];
      });
      assert.equal(result.ok, true);
      assert.equal(builds, 2);
      assert.equal(view.job('counter')?.priority, 52);
    }));

    it('gives up after the given number of attempts and returns the conflicts', using(async (_b, view, store) => {
      await store.commit([{ table: 'jobs', id: 'web', value: job('web') }]);
      let builds = 0;
      const result = await store.commitWithRetry(() => {
        builds++;
        return [{ table: 'jobs', id: 'web', value: job('web'), ifModRevision: 1 }];
      }, 3);
      assert.deepEqual([result, builds], [{ ok: false, conflicts: [{ table: 'jobs', id: 'web' }] }, 3]);
      const index = view.index;
      assert.deepEqual(await store.commitWithRetry(() => null), { ok: true, index });
    }));

    it('stores job versions under zero-padded keys', using(async (b, _view, store) => {
      await store.commit([{ table: 'jobVersions', id: 'web/7', value: job('web', { version: 7 }) }]);
      const { kvs } = await b.range({ prefix: '/berth/job_versions/' });
      assert.deepEqual(kvs.map((kv) => kv.key), ['/berth/job_versions/web/0000000007']);
    }));

    it('rejects a row written twice, an undefined value, a mismatched id and a malformed version id', using(async (b, _view, store) => {
      const before = await b.revision();
      const bad: Write[][] = [
        [{ table: 'jobs', id: 'web', value: job('web') }, { table: 'jobs', id: 'web', value: null }],
        [{ table: 'jobVersions', id: 'web/1', value: job('web', { version: 1 }) }, { table: 'jobVersions', id: 'web/0001', value: null }],
        [{ table: 'jobs', id: 'web', value: undefined }],
        [{ table: 'jobs', id: 'web', value: job('db') }],
        [{ table: 'jobVersions', id: 'web/2', value: job('web', { version: 3 }) }],
        [{ table: 'jobVersions', id: 'web', value: job('web') }],
        [{ table: 'jobVersions', id: 'web/-1', value: job('web') }],
      ];
      for (const writes of bad) {
        await assert.rejects(store.commit(writes), (err) => isBerthError(err, 'invalid_input') && err.message.startsWith('Cannot '), JSON.stringify(writes));
      }
      assert.equal(await b.revision(), before);
    }));
  });
}
