import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Allocation, TaskState } from '../model/index.ts';
import { LineSplitter, allocLabel, tasksToRead } from './job-logs.ts';

const bytes = (s: string): Uint8Array => new TextEncoder().encode(s);

describe('LineSplitter', () => {
  it('hands on a line only once its newline has come, across chunks', () => {
    const s = new LineSplitter();
    assert.deepEqual(s.push(bytes('hel')), []);
    assert.deepEqual(s.push(bytes('lo\nwor')), ['hello']);
    assert.deepEqual(s.push(bytes('ld\n\nlast')), ['world', '']);
    assert.deepEqual(s.end(), ['last']);
    assert.deepEqual(s.end(), []);
  });

  it('keeps a UTF-8 character split between chunks whole', () => {
    const s = new LineSplitter();
    const all = bytes('é€\n');
    assert.deepEqual(s.push(all.slice(0, 1)), []);
    assert.deepEqual(s.push(all.slice(1, 3)), []);
    assert.deepEqual(s.push(all.slice(3)), ['é€']);
  });

  it('cuts an endless line at 64 KiB instead of holding it all', () => {
    const s = new LineSplitter();
    const out = s.push(bytes('x'.repeat(150 * 1024)));
    assert.deepEqual(out.map((l) => l.length), [64 * 1024, 64 * 1024]);
    assert.equal(s.end()[0].length, 22 * 1024);
  });
});

function alloc(over: Partial<Allocation>, tasks: Record<string, TaskState['state']> = { server: 'running' }): Allocation {
  const taskStates = Object.fromEntries(Object.entries(tasks).map(([n, state]) => [n, { state, failed: false, restarts: 0, events: [] }]));
  return { id: '3f2a9c01-0000', group: 'web', index: 1, clientStatus: 'running', taskStates, ...over } as Allocation;
}

describe('which tasks berth logs reads', () => {
  it('reads started tasks of running allocations; terminal ones only with --all; pending never', () => {
    assert.deepEqual(tasksToRead(alloc({}, { a: 'running', b: 'pending', c: 'dead' }), { all: false }), ['a', 'c']);
    assert.deepEqual(tasksToRead(alloc({ clientStatus: 'complete' }), { all: false }), []);
    assert.deepEqual(tasksToRead(alloc({ clientStatus: 'failed' }), { all: true }), ['server']);
    assert.deepEqual(tasksToRead(alloc({ clientStatus: 'pending' }), { all: true }), []);
  });

  it('keeps to --group and --task', () => {
    assert.deepEqual(tasksToRead(alloc({}), { all: false, group: 'db' }), []);
    assert.deepEqual(tasksToRead(alloc({}, { a: 'running', b: 'running' }), { all: false, task: 'b' }), ['b']);
  });

  it('names an allocation by group, index and short id, and the task when it has several', () => {
    assert.equal(allocLabel(alloc({}), 'server', false), 'web.1[3f2a]');
    assert.equal(allocLabel(alloc({}), 'server', true), 'web.1[3f2a]/server');
  });
});
