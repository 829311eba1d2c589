/**
 * The storm judge counts what a user would see wrong after a storm: a judge that always says
 * "clean" would make test/e2e/server-storm.test.ts and bench/storm.ts pass whatever happened.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Allocation } from '../../src/model/index.ts';
import { clean, judge } from './storm.ts';

function alloc(id: string, name: string, jobVersion: number, desiredStatus = 'run', clientStatus = 'running'): Allocation {
  return { id, name, jobVersion, desiredStatus, clientStatus } as Allocation;
}

describe('storm judge', () => {
  it('is clean when every job runs count allocations of its version, one process each', () => {
    const allocs = [alloc('a', 'j.g[0]', 2), alloc('b', 'j.g[1]', 2), alloc('c', 'j.g[0]', 1, 'stop', 'complete')];
    const c = judge([{ id: 'j', version: 2, stop: false, allocs }], 2, [{ pid: 1, allocId: 'a' }, { pid: 2, allocId: 'b' }]);
    assert.equal(clean(c), true, JSON.stringify(c));
  });

  it('counts lost jobs, duplicates, missing, old versions, stuck allocations and orphan processes', () => {
    const allocs = [alloc('1', 'j.g[0]', 2), alloc('2', 'j.g[0]', 2), alloc('3', 'j.g[1]', 1), alloc('4', 'j.g[2]', 1, 'stop', 'running')];
    const c = judge(
      [
        { id: 'j', version: 2, stop: false, allocs },
        { id: 'gone', allocs: [] },
      ],
      3,
      [
        { pid: 1, allocId: '1' },
        { pid: 2, allocId: '9' },
      ],
    );
    assert.deepEqual(c, { jobsLost: 1, duplicated: 1, missing: 3, oldVersion: 1, stuck: 1, orphanProcesses: 1, allocsWithoutOneProcess: 2 });
    assert.equal(clean(c), false);
  });
});
