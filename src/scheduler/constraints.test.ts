import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Constraint } from '../model/index.ts';
import { SchedulerHarness, mockEval, mockGroup, mockJob, mockNode } from '../testing/index.ts';
import { checkOperator, nodeMatches, resolveAttribute } from './constraints.ts';

const node = mockNode({
  id: 'n-1',
  name: 'host-1',
  nodeClass: 'gpu',
  attributes: { os: 'linux', kernel: '5.15.0', cores: '8', tags: 'ssd,fast', docker: '24.0.7-rc1' },
  meta: { rack: 'r1' },
});

describe('constraint operators', () => {
  test('resolve node properties the way job specs name them', () => {
    assert.equal(resolveAttribute(node, '${node.unique.name}'), 'host-1');
    assert.equal(resolveAttribute(node, '${node.unique.id}'), 'n-1');
    assert.equal(resolveAttribute(node, '${node.class}'), 'gpu');
    assert.equal(resolveAttribute(node, '${node.datacenter}'), 'dc1');
    assert.equal(resolveAttribute(node, '${attr.os}'), 'linux');
    assert.equal(resolveAttribute(node, '${meta.rack}'), 'r1');
    assert.equal(resolveAttribute(node, '${attr.missing}'), undefined);
  });

  const cases: [Constraint, boolean][] = [
    [{ attribute: '${attr.os}', operator: '=', value: 'linux' }, true],
    [{ attribute: '${attr.os}', operator: '!=', value: 'linux' }, false],
    [{ attribute: '${attr.missing}', operator: '!=', value: 'linux' }, true],
    [{ attribute: '${attr.cores}', operator: '>', value: '4' }, true],
    [{ attribute: '${attr.cores}', operator: '>=', value: '8' }, true],
    [{ attribute: '${attr.cores}', operator: '<', value: '10' }, true],
    [{ attribute: '${attr.cores}', operator: '<=', value: '7' }, false],
    [{ attribute: '${node.unique.name}', operator: 'regexp', value: '^host-[0-9]$' }, true],
    [{ attribute: '${attr.tags}', operator: 'set_contains', value: 'ssd,fast' }, true],
    [{ attribute: '${attr.tags}', operator: 'set_contains', value: 'ssd,gpu' }, false],
    [{ attribute: '${attr.tags}', operator: 'set_contains_any', value: 'gpu,ssd' }, true],
    [{ attribute: '${attr.kernel}', operator: 'version', value: '>= 5.10, < 6' }, true],
    [{ attribute: '${attr.kernel}', operator: 'version', value: '~> 5.14' }, true],
    [{ attribute: '${attr.docker}', operator: 'semver', value: '>= 24.0.0' }, false],
    [{ attribute: '${attr.docker}', operator: 'semver', value: '>= 24.0.0-rc0' }, true],
    [{ attribute: '${attr.docker}', operator: 'version', value: '>= 24.0' }, true],
    [{ attribute: '${meta.rack}', operator: 'is_set' }, true],
    [{ attribute: '${meta.zone}', operator: 'is_not_set' }, true],
    [{ attribute: '${attr.os}', operator: 'regexp', value: '([' }, false],
  ];
  for (const [c, expected] of cases) {
    test(`${c.attribute} ${c.operator} ${c.value ?? ''} is ${expected}`, () => assert.equal(nodeMatches(node, c), expected));
  }

  test('a missing left side fails every comparison but != and is_not_set', () => {
    for (const op of ['=', '<', '>', 'regexp', 'set_contains', 'version', 'semver'] as const) assert.equal(checkOperator(op, undefined, 'x'), false);
  });
});

async function placements(job: ReturnType<typeof mockJob>, nodes: ReturnType<typeof mockNode>[]): Promise<{ nodes: string[]; failures: string[] }> {
  const harness = new SchedulerHarness().upsertJob(job).upsertNode(...nodes);
  const { plans, eval: result } = await harness.run(mockEval({ jobId: job.id }));
  return { nodes: plans.flatMap((p) => p.place.map((a) => a.nodeId)).sort(), failures: result.failures.flatMap((f) => Object.keys(f.filtered)) };
}

describe('constraints through the scheduler (Marathon mapping)', () => {
  const three = () => [1, 2, 3].map((i) => mockNode({ id: `h${i}`, name: `h${i}`, meta: { rack: i < 3 ? 'r1' : 'r2' } }));

  test('UNIQUE hostname: distinct_hosts puts each allocation on its own node, and says so when nodes run out', async () => {
    const job = mockJob({ constraints: [{ attribute: '', operator: 'distinct_hosts' }], groups: [mockGroup({ count: 4 })] });
    const { nodes, failures } = await placements(job, three());
    assert.deepEqual(nodes, ['h1', 'h2', 'h3']);
    assert.deepEqual(failures, ['distinct_hosts']);
  });

  test('MAX_PER rack 1: distinct_property with a limit', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 3, constraints: [{ attribute: '${meta.rack}', operator: 'distinct_property', value: '1' }] })] });
    const { nodes, failures } = await placements(job, three());
    assert.equal(nodes.length, 2);
    assert.ok(nodes.includes('h3'));
    assert.deepEqual(failures, ['distinct_property ${meta.rack}']);
  });

  test('CLUSTER rack r2: = pins to the value, with the constraint named when it rejects', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 2, constraints: [{ attribute: '${meta.rack}', operator: '=', value: 'r2' }] })] });
    const { nodes } = await placements(job, three());
    assert.deepEqual(nodes, ['h3', 'h3']);
    const none = mockJob({ id: 'none', groups: [mockGroup({ count: 1, constraints: [{ attribute: '${meta.rack}', operator: '=', value: 'r9' }] })] });
    assert.deepEqual((await placements(none, three())).failures, ['constraint ${meta.rack} = r9']);
  });

  test('GROUP_BY rack: an even spread block splits a group over the racks', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 4, spreads: [{ attribute: '${meta.rack}', weight: 100, targets: [] }] })] });
    const { nodes } = await placements(job, three());
    const r2 = nodes.filter((n) => n === 'h3').length;
    assert.equal(r2, 2);
  });

  test('spread targets: 75% on r1, 25% on r2', async () => {
    const targets = [
      { value: 'r1', percent: 75 },
      { value: 'r2', percent: 25 },
    ];
    const job = mockJob({ groups: [mockGroup({ count: 4, spreads: [{ attribute: '${meta.rack}', weight: 100, targets }] })] });
    const { nodes } = await placements(job, three());
    assert.equal(nodes.filter((n) => n === 'h3').length, 1);
  });

  test('a weighted affinity draws placements to matching nodes, a negative one pushes them away', async () => {
    const toward = mockJob({ affinities: [{ attribute: '${meta.rack}', operator: '=', value: 'r2', weight: 100 }], groups: [mockGroup({ count: 1 })] });
    assert.deepEqual((await placements(toward, three())).nodes, ['h3']);
    const away = mockJob({ affinities: [{ attribute: '${meta.rack}', operator: '=', value: 'r1', weight: -100 }], groups: [mockGroup({ count: 1 })] });
    assert.deepEqual((await placements(away, three())).nodes, ['h3']);
  });

  test('node class, disk and max allocations each reject with their own reason', async () => {
    const nodes = [mockNode({ id: 'a', nodeClass: 'cpu' }), mockNode({ id: 'b', maxAllocs: 0 }), mockNode({ id: 'c', resources: { cpu: 4, memoryMiB: 8192, diskMiB: 10 } })];
    const job = mockJob({ groups: [mockGroup({ count: 1, tasks: [{ ...mockGroup().tasks[0], resources: { cpu: 0.1, memoryMiB: 64, diskMiB: 100 } }] })] });
    job.constraints = [{ attribute: '${node.class}', operator: '!=', value: 'cpu' }];
    const { failures } = await placements(job, nodes);
    assert.deepEqual(failures.sort(), ['constraint ${node.class} != cpu', 'disk exhausted', 'max allocations reached']);
  });
});
