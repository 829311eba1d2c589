/**
 * The StateBackend contract as tests: every backend (memory, sqlite, etcd) registers this suite
 * with its own constructor and must pass it unchanged. It asserts only what etcd does, and reads
 * revisions relative to the store's current one (except the first test, which needs a new store).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isBerthError } from '../model/index.ts';
import { CompactedError } from './backend.ts';
import type { Compare, StateBackend } from './backend.ts';
import { holds, keys, pass, putAll, record, sleep, values, type ContractHarness } from './contract-helpers.test-helper.ts';

export type { ContractHarness };

/** Registers the whole StateBackend contract for one backend; `open` gives a fresh store per test. */
export function stateBackendContract(name: string, open: () => Promise<ContractHarness>): void {
  const using = (fn: (b: StateBackend, h: ContractHarness) => Promise<void>) => async () => {
    const h = await open();
    try {
      await fn(h.backend, h);
    } finally {
      await h.cleanup();
    }
  };

  describe(`${name} backend contract`, () => {
    describe('put and range', () => {
      it('starts a new store at revision 1 with no keys', using(async (b) => {
        assert.equal(await b.revision(), 1);
        const r = await b.range({ prefix: '' });
        assert.deepEqual([r.kvs, r.count, r.revision], [[], 0, 1]);
      }));

      it('creates a key at the next revision with version 1', using(async (b) => {
        const r0 = await b.revision();
        assert.equal(await b.put('a', 'one'), r0 + 1);
        const { kvs } = await b.range({ key: 'a' });
        assert.deepEqual(kvs, [{ key: 'a', value: 'one', createRevision: r0 + 1, modRevision: r0 + 1, version: 1, lease: 0 }]);
      }));

      it('keeps createRevision and bumps modRevision and version when a key is put again', using(async (b) => {
        const r1 = await b.put('a', 'one');
        const r2 = await b.put('a', 'two');
        assert.equal(r2, r1 + 1);
        const [kv] = (await b.range({ key: 'a' })).kvs;
        assert.deepEqual([kv.value, kv.createRevision, kv.modRevision, kv.version], ['two', r1, r2, 2]);
      }));

      it('reads one key exactly, not the keys it prefixes', using(async (b) => {
        await putAll(b, ['ab', 'a', 'a/1']);
        assert.deepEqual(keys(await b.range({ key: 'a' })), ['a']);
        assert.deepEqual(keys(await b.range({ key: 'missing' })), []);
      }));

      it('reads a prefix sorted by key and nothing outside it', using(async (b) => {
        await putAll(b, ['p/c', 'p', 'p/a', 'q/a', 'p/b/1', 'o']);
        const r = await b.range({ prefix: 'p/' });
        assert.deepEqual(keys(r), ['p/a', 'p/b/1', 'p/c']);
        assert.equal(r.count, 3);
        assert.equal(r.revision, await b.revision());
      }));

      it('sorts keys by UTF-8 bytes, as etcd does', using(async (b) => {
        await putAll(b, ['k/\u{1F600}', 'k/\uFF21', 'k/Z', 'k/a']);
        assert.deepEqual(keys(await b.range({ prefix: 'k/' })), ['k/Z', 'k/a', 'k/\uFF21', 'k/\u{1F600}']);
      }));

      it('returns the first keys up to the limit and counts them all', using(async (b) => {
        await putAll(b, ['l/3', 'l/1', 'l/2', 'l/4']);
        const r = await b.range({ prefix: 'l/' }, { limit: 2 });
        assert.deepEqual([keys(r), r.count], [['l/1', 'l/2'], 4]);
      }));

      it('counts without returning keys when asked for the count only', using(async (b) => {
        await putAll(b, ['c/1', 'c/2', 'd/1']);
        const r = await b.range({ prefix: 'c/' }, { countOnly: true });
        assert.deepEqual([r.kvs, r.count], [[], 2]);
      }));
    });

    describe('revisions and versions', () => {
      it('bumps the revision once for a txn that writes many keys', using(async (b) => {
        const r0 = await b.revision();
        const res = await b.txn({ compare: [], success: ['m/1', 'm/2', 'm/3'].map((key) => ({ type: 'put', key, value: 'v' })) });
        assert.deepEqual([res.succeeded, res.revision], [true, r0 + 1]);
        assert.deepEqual((await b.range({ prefix: 'm/' })).kvs.map((kv) => kv.modRevision), [r0 + 1, r0 + 1, r0 + 1]);
      }));

      it('does not bump the revision for a txn that writes nothing', using(async (b) => {
        await b.put('a', '1');
        const r0 = await b.revision();
        const res = await b.txn({ compare: [], success: [{ type: 'range', selector: { key: 'a' } }, { type: 'delete', key: 'missing' }] });
        assert.equal(res.revision, r0);
        assert.equal(await b.revision(), r0);
        assert.deepEqual(keys(res.responses[0]!), ['a']);
        assert.equal(res.responses[1], null);
      }));

      it('resets createRevision and version when a key is deleted and created again', using(async (b) => {
        await b.put('a', '1');
        await b.put('a', '2');
        await b.delete({ key: 'a' });
        const r = await b.put('a', '3');
        const [kv] = (await b.range({ key: 'a' })).kvs;
        assert.deepEqual([kv.createRevision, kv.modRevision, kv.version], [r, r, 1]);
      }));
    });

    describe('txn', () => {
      it('evaluates each compare target and operator against the key', using(async (b) => {
        const created = await b.put('k', 'm1');
        const modified = await b.put('k', 'm2');
        const cases: [Compare, boolean][] = [
          [{ key: 'k', target: 'value', op: '=', value: 'm2' }, true],
          [{ key: 'k', target: 'value', op: '=', value: 'm1' }, false],
          [{ key: 'k', target: 'value', op: '!=', value: 'x' }, true],
          [{ key: 'k', target: 'value', op: '<', value: 'n' }, true],
          [{ key: 'k', target: 'value', op: '<', value: 'm2' }, false],
          [{ key: 'k', target: 'value', op: '>', value: 'm1' }, true],
          [{ key: 'k', target: 'value', op: '>', value: 'z' }, false],
          [{ key: 'k', target: 'version', op: '=', value: 2 }, true],
          [{ key: 'k', target: 'version', op: '!=', value: 2 }, false],
          [{ key: 'k', target: 'version', op: '<', value: 3 }, true],
          [{ key: 'k', target: 'version', op: '>', value: 2 }, false],
          [{ key: 'k', target: 'createRevision', op: '=', value: created }, true],
          [{ key: 'k', target: 'createRevision', op: '>', value: created }, false],
          [{ key: 'k', target: 'createRevision', op: '<', value: modified }, true],
          [{ key: 'k', target: 'modRevision', op: '=', value: modified }, true],
          [{ key: 'k', target: 'modRevision', op: '=', value: created }, false],
          [{ key: 'k', target: 'modRevision', op: '!=', value: created }, true],
          [{ key: 'k', target: 'modRevision', op: '>', value: created }, true],
          [{ key: 'k', target: 'modRevision', op: '<', value: modified }, false],
        ];
        for (const [compare, expected] of cases) {
          assert.equal(await holds(b, compare), expected, JSON.stringify(compare));
        }
      }));

      it('compares a missing key as revisions and version 0 and fails every value compare on it', using(async (b) => {
        const cases: [Compare, boolean][] = [
          [{ key: 'none', target: 'createRevision', op: '=', value: 0 }, true],
          [{ key: 'none', target: 'modRevision', op: '=', value: 0 }, true],
          [{ key: 'none', target: 'version', op: '=', value: 0 }, true],
          [{ key: 'none', target: 'version', op: '>', value: 0 }, false],
          [{ key: 'none', target: 'value', op: '=', value: '' }, false],
          [{ key: 'none', target: 'value', op: '!=', value: 'x' }, false],
        ];
        for (const [compare, expected] of cases) {
          assert.equal(await holds(b, compare), expected, JSON.stringify(compare));
        }
      }));

      it('runs the failure ops and not the success ops when a compare fails', using(async (b) => {
        await b.put('k', '1');
        const r0 = await b.revision();
        const res = await b.txn({
          compare: [{ key: 'k', target: 'value', op: '=', value: '1' }, { key: 'k', target: 'version', op: '=', value: 7 }],
          success: [{ type: 'put', key: 'won', value: 'y' }],
          failure: [{ type: 'put', key: 'lost', value: 'y' }, { type: 'range', selector: { key: 'k' } }],
        });
        assert.deepEqual([res.succeeded, res.revision], [false, r0 + 1]);
        assert.deepEqual(keys(await b.range({ prefix: '' })), ['k', 'lost']);
        assert.deepEqual(res.responses[0], null);
        assert.deepEqual(values(res.responses[1]!), [['k', '1']]);
      }));

      it('applies puts, deletes and ranges in op order as one revision', using(async (b) => {
        await putAll(b, ['t/old', 't/gone/1', 't/gone/2', 'keep']);
        const r0 = await b.revision();
        const res = await b.txn({
          compare: [{ key: 't/old', target: 'version', op: '=', value: 1 }],
          success: [
            { type: 'put', key: 't/new', value: 'n' },
            { type: 'delete', key: 't/old' },
            { type: 'deletePrefix', prefix: 't/gone/' },
            { type: 'range', selector: { prefix: 't/' } },
          ],
        });
        assert.deepEqual([res.succeeded, res.revision], [true, r0 + 1]);
        assert.deepEqual(keys(res.responses[3]!), ['t/new']);
        assert.deepEqual(keys(await b.range({ prefix: '' })), ['keep', 't/new']);
      }));

      it('rejects a txn whose branch writes the same key twice, writing nothing', using(async (b) => {
        const r0 = await b.revision();
        await assert.rejects(b.txn({ compare: [], success: [{ type: 'put', key: 'x', value: '1' }, { type: 'put', key: 'x', value: '2' }] }));
        await assert.rejects(b.txn({ compare: [], success: [{ type: 'deletePrefix', prefix: 'x' }, { type: 'put', key: 'x/1', value: '2' }] }));
        assert.equal(await b.revision(), r0);
      }));

      it('rejects a put with an unknown lease, writing nothing', using(async (b) => {
        const r0 = await b.revision();
        const lease = await b.leaseGrant(60);
        await b.leaseRevoke(lease.id);
        await assert.rejects(b.txn({ compare: [], success: [{ type: 'put', key: 'a', value: '1' }, { type: 'put', key: 'b', value: '1', lease: lease.id }] }));
        assert.equal(await b.revision(), r0);
        assert.deepEqual(keys(await b.range({ prefix: '' })), []);
      }));
    });

    describe('delete', () => {
      it('deletes one key and reports how many were deleted', using(async (b) => {
        await putAll(b, ['a', 'ab']);
        const r0 = await b.revision();
        assert.deepEqual(await b.delete({ key: 'a' }), { deleted: 1, revision: r0 + 1 });
        assert.deepEqual(keys(await b.range({ prefix: '' })), ['ab']);
      }));

      it('does not bump the revision when deleting a missing key or an empty prefix', using(async (b) => {
        await b.put('a', '1');
        const r0 = await b.revision();
        assert.deepEqual(await b.delete({ key: 'missing' }), { deleted: 0, revision: r0 });
        assert.deepEqual(await b.delete({ prefix: 'none/' }), { deleted: 0, revision: r0 });
      }));

      it('deletes every key under a prefix in one revision', using(async (b) => {
        await putAll(b, ['d/1', 'd/2', 'd/3/x', 'd', 'e/1']);
        const r0 = await b.revision();
        assert.deepEqual(await b.delete({ prefix: 'd/' }), { deleted: 3, revision: r0 + 1 });
        assert.deepEqual(keys(await b.range({ prefix: '' })), ['d', 'e/1']);
      }));
    });

    describe('range at a past revision', () => {
      it('sees the keys as they were at that revision', using(async (b) => {
        const r0 = await b.revision();
        const r1 = await b.put('h/a', '1');
        const r2 = await b.put('h/b', '1');
        const r3 = await b.put('h/a', '2');
        const { revision: r4 } = await b.delete({ key: 'h/b' });
        const r5 = await b.put('h/c', '1');
        const at = async (revision: number) => values(await b.range({ prefix: 'h/' }, { revision }));
        assert.deepEqual(await at(r0), []);
        assert.deepEqual(await at(r1), [['h/a', '1']]);
        assert.deepEqual(await at(r2), [['h/a', '1'], ['h/b', '1']]);
        assert.deepEqual(await at(r3), [['h/a', '2'], ['h/b', '1']]);
        assert.deepEqual(await at(r4), [['h/a', '2']]);
        assert.deepEqual(await at(r5), [['h/a', '2'], ['h/c', '1']]);
        const [old] = (await b.range({ key: 'h/a' }, { revision: r2 })).kvs;
        assert.deepEqual([old.modRevision, old.version], [r1, 1]);
        const limited = await b.range({ prefix: 'h/' }, { revision: r3, limit: 1 });
        assert.deepEqual([keys(limited), limited.count, limited.revision], [['h/a'], 2, r5]);
      }));

      it('rejects a read at a future revision', using(async (b) => {
        await assert.rejects(b.range({ prefix: '' }, { revision: (await b.revision()) + 5 }));
      }));
    });

    describe('watch', () => {
      it('delivers puts and deletes made after it starts, one batch per revision', using(async (b) => {
        await b.put('w/before', '0');
        const rec = await record(b, { prefix: 'w/' });
        const r1 = await b.put('w/a', '1');
        const r2 = await b.put('w/b', '2');
        const { revision: r3 } = await b.delete({ key: 'w/a' });
        await rec.until(3);
        assert.deepEqual(rec.batches.map((x) => x.revision), [r1, r2, r3]);
        assert.deepEqual(rec.events(), [['put', 'w/a', '1'], ['put', 'w/b', '2'], ['delete', 'w/a', '']]);
        const del = rec.batches[2].events[0].kv;
        assert.deepEqual([del.key, del.modRevision], ['w/a', r3]);
        assert.equal(rec.batches[2].events[0].prevKv, undefined);
      }));

      it('replays history from a past revision and then continues live', using(async (b) => {
        await b.put('r/a', '1');
        const from = await b.put('r/a', '2');
        await b.put('r/b', '1');
        const rec = await record(b, { prefix: 'r/' }, { fromRevision: from });
        await b.put('r/a', '3');
        await rec.until(3);
        assert.deepEqual(rec.events(), [['put', 'r/a', '2'], ['put', 'r/b', '1'], ['put', 'r/a', '3']]);
      }));

      it('waits for a start revision in the future', using(async (b) => {
        const r0 = await b.revision();
        const rec = await record(b, { prefix: '' }, { fromRevision: r0 + 2 });
        await b.put('a', '1');
        await b.put('b', '1');
        await rec.until(1);
        assert.deepEqual(rec.events(), [['put', 'b', '1']]);
      }));

      it('carries the previous key with each event when asked for prevKv', using(async (b) => {
        const r1 = await b.put('k', '1');
        const rec = await record(b, { key: 'k' }, { prevKv: true, fromRevision: r1 });
        await b.put('k', '2');
        await b.delete({ key: 'k' });
        await rec.until(3);
        const prev = rec.batches.map((x) => x.events[0].prevKv);
        assert.equal(prev[0], undefined);
        assert.deepEqual([prev[1]?.value, prev[1]?.modRevision, prev[1]?.version], ['1', r1, 1]);
        assert.deepEqual([prev[2]?.value, prev[2]?.version], ['2', 2]);
      }));

      it('ignores keys outside its prefix or other than its key', using(async (b) => {
        const onPrefix = await record(b, { prefix: 'p/' });
        const onKey = await record(b, { key: 'k' });
        await putAll(b, ['q', 'p', 'p/1', 'k1', 'k', 'p/2']);
        await onPrefix.until(2);
        await onKey.until(1);
        assert.deepEqual(onPrefix.events().map((e) => e[1]), ['p/1', 'p/2']);
        assert.deepEqual(onKey.events().map((e) => e[1]), ['k']);
      }));

      it('delivers the events of one txn as one batch in op order', using(async (b) => {
        await b.put('b/0', '0');
        const rec = await record(b, { prefix: 'b/' });
        const res = await b.txn({
          compare: [],
          success: [{ type: 'put', key: 'b/2', value: '2' }, { type: 'put', key: 'b/1', value: '1' }, { type: 'delete', key: 'b/0' }],
        });
        await b.put('b/3', '3');
        await rec.until(2);
        assert.equal(rec.batches[0].revision, res.revision);
        assert.deepEqual(rec.batches[0].events.map((e) => [e.type, e.kv.key]), [['put', 'b/2'], ['put', 'b/1'], ['delete', 'b/0']]);
      }));

      it('delivers nothing more once canceled', using(async (b) => {
        const rec = await record(b, { prefix: 'c/' });
        const witness = await record(b, { prefix: 'z' });
        await b.put('c/1', '1');
        await rec.until(1);
        rec.watcher.cancel();
        await b.put('c/2', '2');
        await b.put('z', 'done');
        await witness.until(1);
        await sleep(100);
        assert.deepEqual(rec.events(), [['put', 'c/1', '1']]);
      }));
    });

    describe('leases', () => {
      it('deletes the keys of a revoked lease in one revision and leaves others', using(async (b) => {
        const lease = await b.leaseGrant(60);
        const other = await b.leaseGrant(60);
        await b.put('s/a', '1', { lease: lease.id });
        await b.put('s/b', '1', { lease: lease.id });
        await b.put('s/c', '1', { lease: other.id });
        await b.put('s/d', '1');
        assert.equal((await b.range({ key: 's/a' })).kvs[0].lease, lease.id);
        const rec = await record(b, { prefix: 's/' });
        const r0 = await b.revision();
        await b.leaseRevoke(lease.id);
        assert.equal(await b.revision(), r0 + 1);
        await rec.until(1);
        assert.deepEqual(rec.events().map((e) => e.slice(0, 2)), [['delete', 's/a'], ['delete', 's/b']]);
        assert.deepEqual(keys(await b.range({ prefix: 's/' })), ['s/c', 's/d']);
        await b.leaseRevoke(other.id);
      }));

      it('fails keepAlive and revoke of a revoked lease with not_found', using(async (b) => {
        const lease = await b.leaseGrant(60);
        await b.leaseRevoke(lease.id);
        await assert.rejects(b.leaseKeepAlive(lease.id), (err) => isBerthError(err, 'not_found'));
        await assert.rejects(b.leaseRevoke(lease.id), (err) => isBerthError(err, 'not_found'));
      }));

      it('detaches a key from its lease when it is put without one', using(async (b) => {
        const lease = await b.leaseGrant(60);
        await b.put('k', '1', { lease: lease.id });
        await b.put('k', '2');
        await b.leaseRevoke(lease.id);
        assert.deepEqual(values(await b.range({ key: 'k' })), [['k', '2']]);
      }));

      it('deletes the keys of a lease when it expires', using(async (b, h) => {
        const lease = await b.leaseGrant(1);
        await b.put('e/a', '1', { lease: lease.id });
        await b.put('e/b', '1', { lease: lease.id });
        const rec = await record(b, { prefix: 'e/' });
        await pass(h, lease.ttlSeconds * 1000 + 100);
        await rec.until(1, lease.ttlSeconds * 1000 + 10_000);
        assert.deepEqual(rec.events().map((e) => e.slice(0, 2)), [['delete', 'e/a'], ['delete', 'e/b']]);
        assert.deepEqual(keys(await b.range({ prefix: 'e/' })), []);
        await assert.rejects(b.leaseKeepAlive(lease.id), (err) => isBerthError(err, 'not_found'));
      }));

      it('keeps a lease alive past its TTL when kept alive', using(async (b, h) => {
        const lease = await b.leaseGrant(2);
        const ttlMs = lease.ttlSeconds * 1000;
        await b.put('k', '1', { lease: lease.id });
        await pass(h, ttlMs * 0.6);
        await b.leaseKeepAlive(lease.id);
        await pass(h, ttlMs * 0.6);
        assert.deepEqual(keys(await b.range({ key: 'k' })), ['k']);
        await b.leaseRevoke(lease.id);
        assert.deepEqual(keys(await b.range({ key: 'k' })), []);
      }));
    });

    describe('compaction', () => {
      it('fails reads before the compact revision and serves them from it on', using(async (b) => {
        const r1 = await b.put('a', '1');
        const r2 = await b.put('a', '2');
        const r3 = await b.put('a', '3');
        await b.compact(r2);
        await assert.rejects(b.range({ key: 'a' }, { revision: r1 }), CompactedError);
        assert.deepEqual(values(await b.range({ key: 'a' }, { revision: r2 })), [['a', '2']]);
        assert.deepEqual(values(await b.range({ key: 'a' }, { revision: r3 })), [['a', '3']]);
        assert.deepEqual(values(await b.range({ key: 'a' })), [['a', '3']]);
      }));

      it('fails a watch that starts before the compact revision', using(async (b) => {
        const r1 = await b.put('a', '1');
        const r2 = await b.put('a', '2');
        await b.compact(r2);
        const rec = await record(b, { key: 'a' }, { fromRevision: r1 });
        await rec.untilError();
        assert.ok(rec.errors[0] instanceof CompactedError, String(rec.errors[0]));
        assert.deepEqual(rec.batches, []);
      }));

      it('replays a watch that starts at the compact revision', using(async (b) => {
        await b.put('a', '1');
        const r2 = await b.put('a', '2');
        await b.put('b', '1');
        await b.compact(r2);
        const rec = await record(b, { prefix: '' }, { fromRevision: r2 });
        await rec.until(2);
        assert.deepEqual(rec.events(), [['put', 'a', '2'], ['put', 'b', '1']]);
      }));

      it('refuses to compact a revision that is already compacted', using(async (b) => {
        await b.put('a', '1');
        const r2 = await b.put('a', '2');
        await b.compact(r2);
        await assert.rejects(b.compact(r2), CompactedError);
      }));
    });
  });
}
