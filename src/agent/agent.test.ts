import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { BerthClient } from '../api/index.ts';
import { MockMachine, mockDrivers } from '../drivers/index.ts';
import { silentLogger } from '../lib/index.ts';
import type { Allocation } from '../model/index.ts';
// An in-process cluster: the agent against a real server, which the layer table keeps agent/ code from importing.
import { Server } from '../server/index.ts';
import { MemoryBackend } from '../state/index.ts';
import { Agent } from './agent.ts';
import { tempDir } from './agent-fixture.test-helper.ts';
import { LocalState } from './allocs/local-state.ts';

const tmp = tempDir('agent');

/** Resolves with the first truthy value of `probe`, polling; fails after `ms`. */
async function eventually<T>(what: string, probe: () => T | undefined | false, ms = 5_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const webJob = {
  id: 'web',
  type: 'service',
  groups: [{ name: 'web', count: 2, tasks: [{ name: 'web', driver: 'process', config: { command: 'run', args: ['env:BERTH_ALLOC_NAME'] }, kill_timeout: '100ms' }] }],
};

describe('Agent against an in-process server', () => {
  let server: Server;
  let agent: Agent | undefined;
  const machine = new MockMachine();
  const dataDir = path.join(tmp, 'a1');
  const client = (): BerthClient => new BerthClient({ address: server.url });
  const start = (): Promise<Agent> => Agent.start({ serverUrl: server.url, dataDir, logger: silentLogger(), drivers: mockDrivers({ machine }), nodeName: 'a1' });
  const webAllocs = (): Allocation[] => server.view.allocsByJob('web').filter((a) => a.desiredStatus === 'run');
  const running = (): Allocation[] | false => {
    const allocs = webAllocs();
    return allocs.length === 2 && allocs.every((a) => a.clientStatus === 'running') && allocs;
  };

  before(async () => {
    server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
  });
  after(async () => {
    await agent?.stop({ stopTasks: true });
    machine.crash();
    await server.stop();
  });

  it('registers its node, which the server sees ready with the drivers the mock stands in for', async () => {
    agent = await start();
    const node = await eventually('the node', () => server.view.nodes().find((n) => n.name === 'a1'));
    assert.equal(node.id, agent.nodeId);
    assert.equal(node.status, 'ready');
    assert.deepEqual(Object.keys(node.drivers).sort(), ['docker', 'process']);
  });

  it('runs a registered job of count 2 as two running allocations', async () => {
    await client().registerJob(webJob);
    const allocs = await eventually('2 running allocations', running);
    assert.deepEqual(allocs.map((a) => a.nodeId), [agent!.nodeId, agent!.nodeId]);
    const tasks = machine.tasks().filter((t) => !t.exit);
    assert.equal(tasks.length, 2);
    const printed = tasks.map((t) => t.output.map((c) => c.data.toString()).join('')).sort();
    assert.deepEqual(printed, allocs.map((a) => `BERTH_ALLOC_NAME=${a.name}\n`).sort(), 'each task got its own env');
  });

  it('serves its metrics to anyone at /v1/metrics: tasks, restarts, driver latency; its other routes still need the node secret', async () => {
    const node = server.view.nodes().find((n) => n.name === 'a1')!;
    const res = await fetch(`${node.httpAddr}/v1/metrics`);
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^berth_agent_allocs\{status="running"\} 2$/m);
    for (const a of webAllocs()) {
      assert.match(text, new RegExp(`^berth_agent_task_state\\{job_id="web",group="web",alloc_id="${a.id}",task="web",state="running"\\} 1$`, 'm'));
      assert.match(text, new RegExp(`^berth_agent_task_restarts\\{job_id="web",group="web",alloc_id="${a.id}",task="web"\\} 0$`, 'm'));
    }
    assert.match(text, /^berth_agent_driver_operation_seconds_count\{driver="process",op="start"\} 2$/m);
    assert.match(text, /^berth_agent_process_cpu_seconds_total /m);
    assert.equal((await fetch(`${node.httpAddr}/v1/client/allocations/${webAllocs()[0]!.id}/stats`)).status, 403);
  });

  it('leaves the tasks running when it stops, and a new agent on the same data dir reattaches to them', async () => {
    const before = machine.tasks().map((t) => t.handle.id).sort();
    await agent!.stop();
    agent = undefined;
    assert.ok(machine.tasks().every((t) => !t.exit), 'still running');
    agent = await start();
    // The next report from the new agent carries the reattach event.
    const allocs = await eventually('reattached allocations', () => {
      const list = running();
      return list && list.every((a) => a.taskStates.web?.events.some((e) => e.type === 'Reattached')) && list;
    });
    assert.equal(allocs.length, 2);
    assert.deepEqual(machine.tasks().map((t) => t.handle.id).sort(), before, 'the same tasks, none started anew');
    assert.ok(allocs.every((a) => a.taskStates.web.restarts === 0));
  });

  it('adopts a task it finds by its labels when it died before saving the task\'s handle', async () => {
    const before = machine.tasks().map((t) => t.handle.id).sort();
    await agent!.stop();
    agent = undefined;
    // As after a kill -9 between the driver's start and the save: the records lack their handles.
    const local = new LocalState(dataDir);
    await local.open();
    for (const record of await local.load(() => undefined)) await local.save({ ...record, handles: {} });
    local.close();
    agent = await start();
    await eventually('the allocations running again', () => {
      const list = running();
      return list && list.every((a) => (a.taskStates.web?.events.filter((e) => e.type === 'Reattached').length ?? 0) >= 2) && list;
    });
    assert.deepEqual(machine.tasks().map((t) => t.handle.id).sort(), before, 'adopted, none started anew');
    assert.equal(machine.tasks().filter((t) => !t.exit).length, 2);
  });

  it('stops the tasks of a stopped job and reports its allocations complete', async () => {
    await client().stopJob('web');
    await eventually('complete allocations', () => {
      const allocs = server.view.allocsByJob('web');
      return allocs.length === 2 && allocs.every((a) => a.desiredStatus === 'stop' && a.clientStatus === 'complete');
    });
    await eventually('the tasks to be removed', () => machine.tasks().length === 0);
    await eventually('the agent to forget them', () => agent!.runners.size === 0);
    const local = new LocalState(dataDir);
    await local.open();
    assert.deepEqual(await local.load(() => undefined), [], 'no local records left');
    local.close();
  });
});

describe('Agent heartbeats', () => {
  let server: Server;
  const agents: Agent[] = [];

  before(async () => {
    server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0, heartbeat: { minHeartbeatTtlMs: 300, heartbeatGraceMs: 200 } });
  });
  after(async () => {
    for (const a of agents) await a.stop();
    await server.stop();
  });

  it('keep the node ready; a stopped agent has its node marked down, and a restarted one makes it ready again', async () => {
    const dataDir = path.join(tmp, 'hb');
    const start = async (): Promise<Agent> => {
      const a = await Agent.start({ serverUrl: server.url, dataDir, logger: silentLogger(), drivers: mockDrivers(), nodeName: 'hb' });
      agents.push(a);
      return a;
    };
    const first = await start();
    const status = (): string | undefined => server.view.node(first.nodeId)?.status;
    // Well past TTL + grace (500 ms): only heartbeats keep it ready.
    await new Promise((r) => setTimeout(r, 900));
    assert.equal(status(), 'ready');
    await first.stop();
    await eventually('the node marked down', () => status() === 'down', 3_000);
    const second = await start();
    assert.equal(second.nodeId, first.nodeId, 'the same node, from its data dir');
    await eventually('the node ready again', () => status() === 'ready', 3_000);
  });
});

describe('Agent with several servers', () => {
  it('registers through the next server when the first does not answer', async () => {
    const server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
    // A port nothing listens on: the closed port of a server that just stopped.
    const gone = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
    const deadUrl = gone.url;
    await gone.stop();
    const agent = await Agent.start({ serverUrl: deadUrl, servers: [deadUrl, server.url], dataDir: path.join(tmp, 'multi'), logger: silentLogger(), drivers: mockDrivers(), nodeName: 'multi' });
    try {
      await eventually('the node registered with the live server', () => server.view.nodes().find((n) => n.name === 'multi'), 10_000);
    } finally {
      await agent.stop();
      await server.stop();
    }
  });

  it('moves to the next server when its server stops, and heartbeats and runs work there', async () => {
    const first = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
    const second = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
    const machine = new MockMachine();
    const agent = await Agent.start({ serverUrl: first.url, servers: [first.url, second.url], dataDir: path.join(tmp, 'moving'), logger: silentLogger(), drivers: mockDrivers({ machine }), nodeName: 'moving' });
    let firstStopped: Promise<void> | undefined;
    try {
      await eventually('the node registered with the first server', () => first.view.nodes().find((n) => n.name === 'moving'), 10_000);
      firstStopped = first.stop();
      await firstStopped;
      // The second server has never heard of the node (its own state): the agent's heartbeat gets
      // 404 there and registers again, as it would with a server that lost its state.
      await eventually('the node ready on the second server', () => second.view.nodes().find((n) => n.name === 'moving' && n.status === 'ready'), 15_000);
      // Its allocation watch moved too: work placed by the second server runs.
      await new BerthClient({ address: second.url }).registerJob(webJob);
      await eventually('two allocations running through the second server', () => second.view.allocsByJob('web').filter((a) => a.clientStatus === 'running').length === 2, 15_000);
    } finally {
      await agent.stop({ stopTasks: true });
      machine.crash();
      await second.stop();
      await (firstStopped ?? first.stop());
    }
  });
});

describe('Agent node class and metadata', () => {
  it('registers them, and a constraint on them places work only on the matching node', async () => {
    const server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
    const agents: Agent[] = [];
    try {
      for (const [name, nodeClass, rack] of [['plain', undefined, 'r1'], ['gpu', 'gpu', 'r2']] as const) {
        agents.push(
          await Agent.start({ serverUrl: server.url, dataDir: path.join(tmp, `class-${name}`), logger: silentLogger(), drivers: mockDrivers(), nodeName: name, nodeClass, meta: { rack } }),
        );
      }
      const gpu = await eventually('the gpu node', () => server.view.nodes().find((n) => n.name === 'gpu' && n.status === 'ready'));
      assert.equal(gpu.nodeClass, 'gpu');
      assert.deepEqual(gpu.meta, { rack: 'r2' });
      const client = new BerthClient({ address: server.url });
      await client.registerJob(
        'id: train\ngroups:\n  - name: g\n    count: 2\n    constraints:\n      - {attribute: "${node.class}", value: gpu}\n      - {attribute: "${meta.rack}", value: r2}\n    tasks:\n      - {name: t, driver: process, config: {command: run}}\n',
      );
      const placed = await eventually('two placements', () => {
        const allocs = server.view.allocsByJob('train').filter((a) => a.desiredStatus === 'run');
        return allocs.length === 2 && allocs;
      });
      assert.ok(placed.every((a) => a.nodeId === gpu.id), 'only on the node of class gpu in rack r2');
    } finally {
      for (const a of agents) await a.stop({ stopTasks: true });
      await server.stop();
    }
  });
});
