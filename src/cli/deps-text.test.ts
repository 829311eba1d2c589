import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobGraph } from '../api/index.ts';
import { dependencyLines, depsTree } from './deps-text.ts';
import { nodeReasonLines } from './placement-text.ts';

const graph: JobGraph = {
  nodes: [
    { id: 'api', type: 'service', periodic: false, parameterized: false, stop: false, running: 0, held: [{ job: 'db', condition: 'healthy', reason: '0 of 1 allocations healthy' }] },
    { id: 'db', type: 'service', periodic: false, parameterized: false, stop: false, running: 1 },
    { id: 'migrate', type: 'batch', periodic: false, parameterized: false, stop: false, running: 0, last: 'failed' },
    { id: 'report', type: 'batch', periodic: true, parameterized: false, stop: false, running: 0, last: 'complete' },
    { id: 'other', periodic: false, parameterized: false, stop: true, missing: true, running: 0 },
    { id: 'x', type: 'batch', periodic: false, parameterized: false, stop: false, running: 0 },
  ],
  edges: [
    { from: 'db', to: 'api', condition: 'healthy', restart: true },
    { from: 'migrate', to: 'api', condition: 'completed', restart: false },
    { from: 'api', to: 'report' },
    { from: 'other', to: 'x' },
  ],
};

test('the dependency tree puts each job under the jobs it waits for, with the condition and its state', () => {
  assert.equal(
    depsTree(graph),
    [
      'db  [service: 1 running]',
      '└─ api (healthy, restart)  [service: held (waits for db to be healthy)]',
      '   └─ report (after success)  [batch: complete]',
      'migrate  [batch: failed]',
      '└─ api (completed)  [service: held (waits for db to be healthy)] (dependents shown above)',
      'other  [job: missing (not registered)]',
      '└─ x (after success)  [batch: pending]',
    ].join('\n'),
  );
});

test('the tree of one job keeps only what it waits for and what waits for it', () => {
  assert.equal(depsTree(graph, 'x'), ['other  [job: missing (not registered)]', '└─ x (after success)  [batch: pending]'].join('\n'));
  assert.match(depsTree({ nodes: [], edges: [] }), /No job depends on another/);
});

test('job status lists each dependency and, when held, what it waits for', () => {
  const lines = dependencyLines({
    jobId: 'api',
    status: 'pending',
    version: 0,
    groups: {},
    dependencies: [{ job: 'db', condition: 'healthy', restart: false, met: false, reason: '0 of 1 allocations healthy' }],
    held: [{ job: 'db', condition: 'healthy', reason: '0 of 1 allocations healthy' }],
  });
  assert.deepEqual(lines, [
    '',
    'Dependencies',
    '  db healthy: not met: 0 of 1 allocations healthy',
    '',
    'Held: not placed until its dependencies are met',
    '  waiting for job "db" to be healthy: 0 of 1 allocations healthy',
  ]);
});

test('placement failures list each ruled-out node, then how many more were not listed', () => {
  const lines = nodeReasonLines({
    group: 'g',
    missing: 1,
    nodesEvaluated: 23,
    filtered: { 'memory exhausted': 23 },
    nodes: [{ nodeId: '3f2a1c9d-aaaa', nodeName: 'b1', reason: 'memory exhausted' }],
    nodesOmitted: 22,
  });
  assert.deepEqual(lines, ['  node b1 (3f2a1c9d): memory exhausted', '  and 22 more nodes ruled out (not listed)']);
});
