import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Group, Job, Node, PlacementFailure } from '../model/index.ts';
import { SchedulerHarness, mockAlloc, mockEval, mockGroup, mockJob, mockNode, mockTask } from '../testing/index.ts';
import {
  checkNode,
  datacenterChecker,
  driverChecker,
  groupDemand,
  nodeReadyChecker,
  portChecker,
  resourceChecker,
  type FeasibilityChecker,
  type PlacementAsk,
} from './feasible.ts';
import { PlanUsage } from './plan-usage.ts';

function ask(harness: SchedulerHarness, job: Job, group: Group = job.groups[0]): PlacementAsk {
  return { job, group, demand: groupDemand(group), usage: new PlanUsage(harness.snapshot(), new Set()) };
}

function verdict(checker: FeasibilityChecker, node: Node, job: Job = mockJob(), harness = new SchedulerHarness()): true | string {
  harness.upsertNode(node);
  return checker.feasible(node, ask(harness, job));
}

describe('feasibility checkers', () => {
  test('node-ready rejects nodes that are down, initializing or ineligible', () => {
    assert.equal(verdict(nodeReadyChecker, mockNode()), true);
    assert.equal(verdict(nodeReadyChecker, mockNode({ status: 'down' })), 'node down');
    assert.equal(verdict(nodeReadyChecker, mockNode({ status: 'initializing' })), 'node initializing');
    assert.equal(verdict(nodeReadyChecker, mockNode({ eligible: false })), 'node ineligible');
  });

  test('datacenter rejects nodes outside the job datacenters', () => {
    const job = mockJob({ datacenters: ['dc1', 'dc2'] });
    assert.equal(verdict(datacenterChecker, mockNode({ datacenter: 'dc2' }), job), true);
    assert.equal(verdict(datacenterChecker, mockNode({ datacenter: 'dc3' }), job), 'datacenter not in job');
  });

  test('driver rejects nodes without a healthy driver for every task', () => {
    const job = mockJob({ groups: [mockGroup({ tasks: [mockTask(), mockTask({ name: 'side', driver: 'process' })] })] });
    assert.equal(verdict(driverChecker, mockNode(), job), true);
    assert.equal(verdict(driverChecker, mockNode({ drivers: { docker: { detected: true, healthy: true } } }), job), 'missing driver process');
    const sick = mockNode({ drivers: { docker: { detected: true, healthy: false }, process: { detected: true, healthy: true } } });
    assert.equal(verdict(driverChecker, sick, job), 'unhealthy driver docker');
  });

  test('driver checks a task without a driver against the node default', () => {
    const job = mockJob({ groups: [mockGroup({ tasks: [mockTask({ driver: undefined })] })] });
    const processOnly = { process: { detected: true, healthy: true } };
    assert.equal(verdict(driverChecker, mockNode({ drivers: processOnly, defaultDriver: 'process' }), job), true);
    assert.equal(verdict(driverChecker, mockNode({ drivers: processOnly, defaultDriver: 'docker' }), job), 'missing driver docker');
  });

  test('resources count live allocations on the node and ignore terminal ones', () => {
    const node = mockNode({ resources: { cpu: 1, memoryMiB: 1024 } });
    const harness = new SchedulerHarness();
    harness.upsertAlloc(
      mockAlloc({ nodeId: node.id, resources: { cpu: 0.5, memoryMiB: 512 } }),
      mockAlloc({ nodeId: node.id, resources: { cpu: 1, memoryMiB: 1024 }, clientStatus: 'complete' }),
    );
    const fits = mockJob({ groups: [mockGroup({ tasks: [mockTask({ resources: { cpu: 0.5, memoryMiB: 512 } })] })] });
    const tooMuchMemory = mockJob({ groups: [mockGroup({ tasks: [mockTask({ resources: { cpu: 0.1, memoryMiB: 513 } })] })] });
    const tooMuchCpu = mockJob({ groups: [mockGroup({ tasks: [mockTask({ resources: { cpu: 0.6, memoryMiB: 1 } })] })] });
    assert.equal(verdict(resourceChecker, node, fits, harness), true);
    assert.equal(verdict(resourceChecker, node, tooMuchMemory, harness), 'memory exhausted');
    assert.equal(verdict(resourceChecker, node, tooMuchCpu, harness), 'cpu exhausted');
  });

  test('resources add up the tasks of a group exactly, in millicores', () => {
    const tasks = [0.1, 0.2, 0.3, 0.4].map((cpu, i) => mockTask({ name: `t${i}`, resources: { cpu, memoryMiB: 1 } }));
    const job = mockJob({ groups: [mockGroup({ tasks })] });
    assert.deepEqual(groupDemand(job.groups[0]), { cpuMilli: 1000, memoryMiB: 4, diskMiB: 0, staticPorts: [], dynamicPorts: 0 });
    assert.equal(verdict(resourceChecker, mockNode({ resources: { cpu: 1, memoryMiB: 4 } }), job), true);
  });

  test('ports reject a static port in use on the node', () => {
    const node = mockNode();
    const harness = new SchedulerHarness();
    harness.upsertAlloc(mockAlloc({ nodeId: node.id, ports: [{ label: 'http', value: 8080, to: 8080 }] }));
    const job = mockJob({ groups: [mockGroup({ ports: [{ label: 'http', static: 8080 }] })] });
    assert.equal(verdict(portChecker, node, job, harness), 'port 8080 in use');
    assert.equal(verdict(portChecker, mockNode(), job), true);
  });

  test('ports reject a node whose dynamic range has too few free ports', () => {
    const node = mockNode({ portRange: { min: 20000, max: 20002 } });
    const harness = new SchedulerHarness();
    harness.upsertAlloc(mockAlloc({ nodeId: node.id, ports: [{ label: 'a', value: 20001, to: 20001 }] }));
    const ports = (n: number) => Array.from({ length: n }, (_, i) => ({ label: `p${i}` }));
    const two = mockJob({ groups: [mockGroup({ ports: ports(2) })] });
    const three = mockJob({ groups: [mockGroup({ ports: ports(3) })] });
    assert.equal(verdict(portChecker, node, two, harness), true);
    assert.equal(verdict(portChecker, node, three, harness), 'dynamic ports exhausted');
  });

  test('the chain reports the first rejection', () => {
    const harness = new SchedulerHarness();
    const node = mockNode({ status: 'down', datacenter: 'dc9' });
    harness.upsertNode(node);
    assert.equal(checkNode(node, ask(harness, mockJob())), 'node down');
  });
});

/** A failure without the ranking details (`exhausted`, `topScores`), which other tests cover. */
function basic(failures: PlacementFailure[]): PlacementFailure[] {
  return failures.map(({ group, missing, nodesEvaluated, filtered }) => ({ group, missing, nodesEvaluated, filtered }));
}

describe('placement failures', () => {
  test('count each rejection reason across the nodes evaluated', async () => {
    const big = mockTask({ resources: { cpu: 1, memoryMiB: 4096 } });
    const job = mockJob({ groups: [mockGroup({ count: 2, tasks: [big], ports: [{ label: 'http', static: 80 }] })] });
    const busy = mockNode({ id: 'busy' });
    const harness = new SchedulerHarness().upsertJob(job);
    harness.upsertNode(
      mockNode({ id: 'down', status: 'down' }),
      mockNode({ id: 'drained', eligible: false }),
      mockNode({ id: 'far', datacenter: 'dc2' }),
      mockNode({ id: 'nodocker', drivers: { process: { detected: true, healthy: true } } }),
      mockNode({ id: 'small', resources: { cpu: 4, memoryMiB: 1024 } }),
      mockNode({ id: 'slow', resources: { cpu: 0.5, memoryMiB: 8192 } }),
      busy,
    );
    harness.upsertAlloc(mockAlloc({ jobId: 'other', nodeId: 'busy', ports: [{ label: 'x', value: 80, to: 80 }] }));
    const { eval: result, plans } = await harness.run(mockEval());
    assert.equal(plans.length, 0);
    assert.equal(result.status, 'complete');
    assert.deepEqual(basic(result.failures), [
      {
        group: 'web',
        missing: 2,
        nodesEvaluated: 7,
        filtered: {
          'node down': 1,
          'node ineligible': 1,
          'datacenter not in job': 1,
          'missing driver docker': 1,
          'memory exhausted': 1,
          'cpu exhausted': 1,
          'port 80 in use': 1,
        },
      },
    ]);
    assert.match(result.statusDescription ?? '', /^no changes; cannot place 2 of group "web": cpu exhausted on 1 of 7 nodes, /);
  });

  test('count the slots that did not fit after others did', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 5, tasks: [mockTask({ resources: { cpu: 1, memoryMiB: 1024 } })] })] });
    const harness = new SchedulerHarness().upsertJob(job).upsertNode(mockNode({ resources: { cpu: 2, memoryMiB: 8192 } }));
    const { eval: result, plans } = await harness.run(mockEval());
    assert.equal(plans[0].place.length, 2);
    assert.deepEqual(basic(result.failures), [{ group: 'web', missing: 3, nodesEvaluated: 1, filtered: { 'cpu exhausted': 1 } }]);
    assert.equal(result.statusDescription, 'placed 2; cannot place 3 of group "web": cpu exhausted on 1 of 1 nodes');
  });

  test('say per exhausted dimension what one allocation asks and the most any node has free, and where', async () => {
    const job = mockJob({ groups: [mockGroup({ count: 1, tasks: [mockTask({ resources: { cpu: 0.5, memoryMiB: 100_000 * 1024 } })] })] });
    const harness = new SchedulerHarness().upsertJob(job);
    harness.upsertNode(
      mockNode({ id: 'n1', name: 'small', resources: { cpu: 4, memoryMiB: 8192 } }),
      mockNode({ id: 'n2', name: 'big', resources: { cpu: 4, memoryMiB: 32768 } }),
      mockNode({ id: 'n3', name: 'slow', resources: { cpu: 0.25, memoryMiB: 65536 } }),
    );
    // What runs on `big` already counts against its free memory.
    harness.upsertAlloc(mockAlloc({ jobId: 'other', nodeId: 'n2', resources: { cpu: 0.1, memoryMiB: 8192 } }));
    const { eval: result } = await harness.run(mockEval());
    assert.deepEqual(result.failures[0].shortfall, {
      memory: { ask: 102_400_000, mostFree: 24576, nodeId: 'n2', nodeName: 'big' },
      cpu: { ask: 500, mostFree: 250, nodeId: 'n3', nodeName: 'slow' },
    });
  });

  test('say so when there are no nodes at all', async () => {
    const harness = new SchedulerHarness().upsertJob(mockJob());
    const { eval: result } = await harness.run(mockEval());
    assert.deepEqual(basic(result.failures), [{ group: 'web', missing: 3, nodesEvaluated: 0, filtered: {} }]);
    assert.equal(result.statusDescription, 'no changes; cannot place 3 of group "web": no nodes');
  });
});
