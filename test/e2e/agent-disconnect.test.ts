import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import type { Allocation } from '../../src/model/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually, freePort } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { dockerTestEngine } from '../harness/dockerd.ts';
import { ip, netnsProblem } from '../harness/netns.ts';

/**
 * An agent in its own network namespace, joined to the host by a veth pair: taking the host end
 * down cuts it off from the server while its containers (in dockerd's namespace) run on.
 */
const ns = `berth-dc-${process.pid}`;
const hostIf = `bdc${process.pid % 100000}h`;
const nsIf = `bdc${process.pid % 100000}n`;
const subnet = `10.213.${process.pid % 250}`;


const engine = dockerTestEngine();
const problem = engine ? netnsProblem() : 'needs a Docker engine (set BERTH_TEST_DOCKER_HOST)';

if (problem) {
  describe('an agent cut off from the server', () => {
    it('needs root, iproute2 and Docker', (t) => {
      if (process.env.CI === 'true') assert.fail(problem);
      t.skip(problem);
    });
  });
} else {
  const docker: Docker = connectDocker(engine!.host);
  const running = async (node: string): Promise<string[]> =>
    (await docker.listContainers({ filters: JSON.stringify({ label: [`berth.node=${node}`], status: ['running'] }) })).map((c) => c.Id);

  describe('an agent cut off from the server', { timeout: 180_000 }, () => {
    let dir: string;
    let server: (BerthProcess & { addr: string }) | undefined;
    const agents: BerthProcess[] = [];
    const nodeA = `dc-a-${process.pid}`;
    const nodeB = `dc-b-${process.pid}`;

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-disconnect-'));
      ip('netns', 'add', ns);
      ip('link', 'add', hostIf, 'type', 'veth', 'peer', 'name', nsIf);
      ip('link', 'set', nsIf, 'netns', ns);
      ip('addr', 'add', `${subnet}.1/30`, 'dev', hostIf);
      ip('link', 'set', hostIf, 'up');
      ip('netns', 'exec', ns, 'ip', 'addr', 'add', `${subnet}.2/30`, 'dev', nsIf);
      ip('netns', 'exec', ns, 'ip', 'link', 'set', nsIf, 'up');
      ip('netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up');
      const port = await freePort();
      server = await startServer(path.join(dir, 'server'), port, `${subnet}.1`);
    });
    after(async () => {
      if (server) {
        await berth(['job', 'stop', 'cut', '--purge', '--detach'], { addr: server.addr }).catch(() => undefined);
        await eventually('the tasks to be gone', async () => (await running(nodeA)).length + (await running(nodeB)).length === 0, 30_000).catch(() => undefined);
      }
      for (const a of agents) await a.stop();
      await server?.stop();
      for (const node of [nodeA, nodeB]) {
        for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.node=${node}`] }) })) {
          await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
        }
      }
      try {
        ip('link', 'del', hostIf);
      } catch {
        // Gone with the namespace.
      }
      ip('netns', 'del', ns);
      await rm(dir, { recursive: true, force: true });
    });

    it('keeps its tasks running, and once back stops the copies the server replaced, leaving exactly count running', async () => {
      const common = { servers: [server!.addr], driver: 'docker' as const, dockerHost: engine!.host };
      agents.push(await startAgent({ ...common, dataDir: path.join(dir, 'a'), nodeName: nodeA, netns: ns }));
      const file = path.join(dir, 'cut.yaml');
      await writeFile(file, `id: cut
type: service
groups:
  - name: app
    count: 3
    tasks:
      - name: main
        driver: docker
        config: {image: "${engine!.image}", command: /bin/sh, args: ["-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]}
        resources: {cpu: 10m, memory: 8Mi}
        kill_timeout: 2s
`);
      const run = await berth(['job', 'run', file], { addr: server!.addr, timeoutMs: 60_000 });
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\n${agents[0].logs().slice(-2000)}`);
      const onA = await running(nodeA);
      assert.equal(onA.length, 3);
      agents.push(await startAgent({ ...common, dataDir: path.join(dir, 'b'), nodeName: nodeB }));

      ip('link', 'set', hostIf, 'down');
      // The server marks node A down, its allocations lost, and places replacements on B.
      await eventually('3 replacements running on node B', async () => (await running(nodeB)).length === 3, 60_000);
      assert.deepEqual((await running(nodeA)).sort(), onA.sort(), 'the cut-off agent kept its tasks running');

      ip('link', 'set', hostIf, 'up');
      await eventually('the stale copies on node A to be stopped', async () => (await running(nodeA)).length === 0, 60_000);
      const res = await fetch(`${server!.addr}/v1/jobs/cut/allocations`);
      const allocs = (await res.json()) as Allocation[];
      const live = allocs.filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running');
      assert.equal(live.length, 3, JSON.stringify(allocs.map((a) => [a.name, a.nodeId, a.desiredStatus, a.clientStatus])));
      await new Promise((r) => setTimeout(r, 2000));
      assert.equal((await running(nodeB)).length, 3, 'exactly count run');
      assert.equal((await running(nodeA)).length, 0);
    });
  });
}

/**
 * The simplest disconnect: the only server stops and comes back on the same port. The agent's
 * tasks run on meanwhile; afterwards the same containers run, no more and no fewer.
 */
describe('an agent whose server stops and comes back', { timeout: 120_000 }, () => {
  it('keeps its tasks running through the outage and carries on with the same ones', async (t) => {
    if (!engine) {
      if (process.env.CI === 'true') assert.fail('no Docker engine: set BERTH_TEST_DOCKER_HOST');
      return t.skip('no Docker engine');
    }
    const docker: Docker = connectDocker(engine.host);
    const node = `outage-${process.pid}`;
    const running = async (): Promise<string[]> =>
      (await docker.listContainers({ filters: JSON.stringify({ label: [`berth.node=${node}`], status: ['running'] }) })).map((c) => c.Id).sort();
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-outage-'));
    const port = await freePort();
    let server = await startServer(path.join(dir, 'server'), port);
    const agent = await startAgent({ servers: [server.addr], dataDir: path.join(dir, 'agent'), nodeName: node, driver: 'docker', dockerHost: engine.host });
    try {
      const file = path.join(dir, 'outage.yaml');
      await writeFile(file, `id: outage\ngroups:\n  - name: app\n    count: 3\n    tasks:\n      - name: main\n        driver: docker\n        config: {image: "${engine.image}", command: /bin/sh, args: ["-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]}\n        resources: {cpu: 10m, memory: 8Mi}\n        kill_timeout: 1s\n`);
      const run = await berth(['job', 'run', file], { addr: server.addr, timeoutMs: 60_000 });
      assert.equal(run.code, 0, run.stderr);
      const before = await running();
      assert.equal(before.length, 3);

      await server.stop();
      await new Promise((r) => setTimeout(r, 3000));
      assert.deepEqual(await running(), before, 'the tasks ran on while no server answered');
      assert.equal(agent.child.exitCode, null, 'the agent waits for a server, it does not give up');

      server = await startServer(path.join(dir, 'server'), port);
      const allocs = await eventually('3 allocations running again', async () => {
        const list = (await (await fetch(`${server.addr}/v1/jobs/outage/allocations`)).json()) as Allocation[];
        const live = list.filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running');
        return live.length === 3 ? live : undefined;
      }, 60_000);
      assert.equal(allocs.length, 3);
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(await running(), before, 'the same containers, none restarted or added');
    } finally {
      await berth(['job', 'stop', 'outage', '--purge'], { addr: server.addr, timeoutMs: 30_000 }).catch(() => undefined);
      await agent.stop();
      await server.stop();
      for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.node=${node}`] }) })) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
      await rm(dir, { recursive: true, force: true });
    }
  });
});
