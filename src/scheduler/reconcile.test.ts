import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Allocation } from '../model/index.ts';
import { mockAlloc, mockGroup, mockJob } from '../testing/index.ts';
import { reconcile, type ReconcileResult } from './reconcile.ts';

const NOW = 1_000;

function slots(result: ReconcileResult): string[] {
  return result.place.map((p) => p.name);
}

function stops(result: ReconcileResult): string[] {
  return result.stop.map((s) => `${s.alloc.name}: ${s.reason}`);
}

function running(count: number, overrides: Partial<Allocation> = {}): Allocation[] {
  return Array.from({ length: count }, (_, index) => mockAlloc({ index, ...overrides }));
}

describe('reconcile', () => {
  test('places every slot of a new job', () => {
    const result = reconcile(mockJob(), [], { now: NOW });
    assert.deepEqual(slots(result), ['web.web[0]', 'web.web[1]', 'web.web[2]']);
    assert.deepEqual(result.stop, []);
  });

  test('leaves a job that matches its allocations alone', () => {
    const allocs = running(3);
    const result = reconcile(mockJob(), allocs, { now: NOW });
    assert.deepEqual(result.place, []);
    assert.deepEqual(result.stop, []);
    assert.equal(result.ignore.length, 3);
  });

  test('places only the missing slots when scaling up', () => {
    const result = reconcile(mockJob({ groups: [mockGroup({ count: 5 })] }), running(3), { now: NOW });
    assert.deepEqual(slots(result), ['web.web[3]', 'web.web[4]']);
  });

  test('stops the highest indexes first when scaling down', () => {
    const result = reconcile(mockJob({ groups: [mockGroup({ count: 1 })] }), running(4), { now: NOW });
    assert.deepEqual(stops(result), ['web.web[3]: scaled down', 'web.web[2]: scaled down', 'web.web[1]: scaled down']);
    assert.deepEqual(result.place, []);
  });

  test('stops every live allocation of a stopped job', () => {
    const allocs = [...running(2), mockAlloc({ index: 2, clientStatus: 'complete' })];
    const result = reconcile(mockJob({ stop: true }), allocs, { now: NOW });
    assert.deepEqual(stops(result), ['web.web[1]: job stopped', 'web.web[0]: job stopped']);
    assert.deepEqual(result.place, []);
  });

  test('stops every live allocation of a job that is gone', () => {
    const result = reconcile(undefined, running(2), { now: NOW });
    assert.deepEqual(stops(result), ['web.web[1]: job deregistered', 'web.web[0]: job deregistered']);
  });

  test('replaces allocations of an older version all at once', () => {
    const allocs = running(2, { jobVersion: 1 });
    const result = reconcile(mockJob({ version: 2, groups: [mockGroup({ count: 2 })] }), allocs, { now: NOW });
    assert.deepEqual(stops(result), ['web.web[1]: replaced by job version 2', 'web.web[0]: replaced by job version 2']);
    assert.deepEqual(slots(result), ['web.web[0]', 'web.web[1]']);
  });

  test('replaces an exited allocation of an older version without stopping it', () => {
    const allocs = [mockAlloc({ jobVersion: 0, clientStatus: 'failed' })];
    const result = reconcile(mockJob({ version: 1, groups: [mockGroup({ count: 1 })] }), allocs, { now: NOW });
    assert.deepEqual(result.stop, []);
    assert.deepEqual(slots(result), ['web.web[0]']);
  });

  test('keeps a failed allocation in its slot instead of replacing it', () => {
    const allocs = [mockAlloc({ index: 0, clientStatus: 'failed' }), mockAlloc({ index: 1 })];
    const result = reconcile(mockJob({ groups: [mockGroup({ count: 2 })] }), allocs, { now: NOW });
    assert.deepEqual(result.place, []);
    assert.deepEqual(result.stop, []);
  });

  test('does not run a completed batch allocation again', () => {
    const allocs = [mockAlloc({ clientStatus: 'complete' })];
    const result = reconcile(mockJob({ type: 'batch', groups: [mockGroup({ count: 1 })] }), allocs, { now: NOW });
    assert.deepEqual(result.place, []);
  });

  test('replaces a completed service allocation and a lost one', () => {
    const allocs = [mockAlloc({ index: 0, clientStatus: 'complete' }), mockAlloc({ index: 1, clientStatus: 'lost' })];
    const result = reconcile(mockJob({ groups: [mockGroup({ count: 2 })] }), allocs, { now: NOW });
    assert.deepEqual(slots(result), ['web.web[0]', 'web.web[1]']);
    assert.deepEqual(result.stop, []);
  });

  test('replaces an allocation that was told to stop', () => {
    const allocs = [mockAlloc({ desiredStatus: 'stop' })];
    const result = reconcile(mockJob({ groups: [mockGroup({ count: 1 })] }), allocs, { now: NOW });
    assert.deepEqual(slots(result), ['web.web[0]']);
    assert.deepEqual(result.stop, []);
  });

  test('stops extra allocations in one slot and keeps the oldest live one', () => {
    const oldest = mockAlloc({ index: 0, createTime: 1 });
    const newer = mockAlloc({ index: 0, createTime: 5 });
    const failed = mockAlloc({ index: 0, createTime: 0, clientStatus: 'failed' });
    const result = reconcile(mockJob({ groups: [mockGroup({ count: 1 })] }), [newer, failed, oldest], { now: NOW });
    assert.deepEqual(
      result.stop.map((s) => [s.alloc.id, s.reason]),
      [[newer.id, 'duplicate index']],
    );
    assert.ok(result.ignore.includes(oldest));
    assert.ok(result.ignore.includes(failed));
    assert.deepEqual(result.place, []);
  });

  test('stops the allocations of a group removed from the job', () => {
    const allocs = [mockAlloc({ group: 'old' }), mockAlloc({ group: 'old', index: 1, clientStatus: 'complete' })];
    const result = reconcile(mockJob({ groups: [mockGroup({ count: 0 })] }), allocs, { now: NOW });
    assert.deepEqual(stops(result), ['web.old[0]: group removed from job']);
  });

  test('handles several groups independently', () => {
    const job = mockJob({ groups: [mockGroup({ name: 'api', count: 1 }), mockGroup({ name: 'db', count: 2 })] });
    const result = reconcile(job, [mockAlloc({ group: 'db', index: 1 })], { now: NOW });
    assert.deepEqual(slots(result), ['web.api[0]', 'web.db[0]']);
  });

  test('ignores an allocation at an index that was scaled away but has exited', () => {
    const result = reconcile(mockJob({ groups: [mockGroup({ count: 1 })] }), [mockAlloc({ index: 0 }), mockAlloc({ index: 4, clientStatus: 'failed' })], { now: NOW });
    assert.deepEqual(result.stop, []);
    assert.deepEqual(result.place, []);
    assert.equal(result.ignore.length, 2);
  });
});
