import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJobSpec } from './index.ts';

const base = (extra: string, group = ''): string =>
  [
    'id: web',
    extra,
    'groups:',
    '  - name: web',
    group,
    '    tasks:',
    '      - name: t',
    '        driver: process',
    '        config: {command: /bin/true}',
    '',
  ]
    .filter((l) => l !== '')
    .join('\n');

describe('placement blocks in job specs', () => {
  it('reads constraints, affinities, spreads, reschedule, disconnect and migrate with their defaults', () => {
    const spec = base(
      [
        'type: batch',
        'max_run_duration: 2h',
        'constraints: [{attribute: "${attr.os}", operator: "=", value: linux}, {operator: distinct_hosts}]',
        'affinities: [{attribute: "${meta.rack}", value: r1, weight: -20}]',
      ].join('\n'),
      [
        '    spreads: [{attribute: "${meta.zone}", targets: [{value: z1, percent: 70}]}]',
        '    reschedule: {attempts: 2, delay: 10s, delay_function: fibonacci}',
        '    disconnect: {lost_after: 1m}',
        '    migrate: {max_parallel: 3}',
      ].join('\n'),
    );
    const r = parseJobSpec(spec, { source: 'web.yaml' });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    const { job } = r;
    assert.equal(job.type, 'batch');
    assert.equal(job.maxRunDurationMs, 7_200_000);
    assert.deepEqual(job.constraints, [
      { attribute: '${attr.os}', operator: '=', value: 'linux' },
      { attribute: '', operator: 'distinct_hosts' },
    ]);
    assert.deepEqual(job.affinities, [{ attribute: '${meta.rack}', operator: '=', value: 'r1', weight: -20 }]);
    const g = job.groups[0];
    assert.deepEqual(g.spreads, [{ attribute: '${meta.zone}', weight: 50, targets: [{ value: 'z1', percent: 70 }] }]);
    // Batch defaults fill what the block leaves out.
    assert.deepEqual(g.reschedule, { attempts: 2, intervalMs: 86_400_000, delayMs: 10_000, delayFunction: 'fibonacci', maxDelayMs: 0, unlimited: false });
    assert.deepEqual(g.disconnect, { lostAfterMs: 60_000, replace: true, reconcile: 'best_score' });
    assert.deepEqual(g.migrate, { maxParallel: 3 });
  });

  it('accepts system jobs and leaves specs without placement blocks as they were', () => {
    const r = parseJobSpec(base('type: system'), { source: 'x' });
    assert.ok(r.ok);
    assert.equal(r.job.type, 'system');
    assert.deepEqual(Object.keys(r.job.groups[0]).includes('constraints'), false);
  });

  it('reports every problem with its path', () => {
    const r = parseJobSpec(
      base(
        ['max_run_duration: 1h', 'constraints: [{attribute: "${attr.os}", operator: "~=", value: x}, {attribute: "${node.unique.name}", operator: regexp, value: "(["}, {attribute: "${attr.os}", operator: "="}]'].join('\n'),
        '    spreads: [{attribute: "${meta.zone}", targets: [{value: a, percent: 80}, {value: b, percent: 30}]}]',
      ),
      { source: 'x' },
    );
    assert.ok(!r.ok);
    const paths = r.errors.map((e) => e.path);
    assert.ok(paths.includes('max_run_duration'), 'only batch jobs');
    assert.ok(paths.includes('constraints[0].operator'));
    assert.ok(paths.includes('constraints[1].value'));
    assert.ok(paths.includes('constraints[2].value'));
    assert.ok(paths.includes('groups[0].spreads[0].targets'));
  });
});
