import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import type { Allocation } from '../../src/model/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { dockerTestEngine } from '../harness/dockerd.ts';
import { pidsWith } from '../harness/observe.ts';

const COUNT = 20;

/** A job of COUNT long-running tasks that stop at once on SIGTERM; `marker` finds their processes. */
function jobYaml(driver: 'docker' | 'process', id: string, marker: string): string {
  const script = `trap 'exit 0' TERM; while :; do sleep 1; done`;
  const config = driver === 'docker' ? `{image: "${process.env.BERTH_TEST_IMAGE ?? 'berth-test/busybox:latest'}", command: /bin/sh, args: ["-c", "${script}", "${marker}"]}` : `{command: /bin/sh, args: ["-c", "${script}", "${marker}"]}`;
  return `id: ${id}
type: service
groups:
  - name: app
    count: ${COUNT}
    restart: {attempts: 3, interval: 1m, delay: 1s, mode: fail}
    tasks:
      - name: main
        driver: ${driver}
        config: ${config}
        resources: {cpu: 10m, memory: 8Mi}
        kill_timeout: 2s
`;
}

async function allocsOf(addr: string, job: string): Promise<Allocation[]> {
  const res = await fetch(`${addr}/v1/jobs/${job}/allocations`);
  if (!res.ok) throw new Error(`GET allocations of ${job}: ${res.status} ${await res.text()}`);
  return (await res.json()) as Allocation[];
}

interface Probe {
  driver: 'docker' | 'process';
  dockerHost?: string;
  /** The ids of the tasks that run now: container ids, or pids. */
  taskIds(marker: string, node: string): Promise<string[]>;
}

function recoveryScenario(probe: Probe): void {
  describe(`berth agent with the ${probe.driver} driver, killed with SIGKILL`, { timeout: 240_000 }, () => {
    let dir: string;
    let server: (BerthProcess & { addr: string }) | undefined;
    let agent: BerthProcess | undefined;
    const node = `recov-${probe.driver}-${process.pid}`;
    const job = `recov-${probe.driver}`;
    const marker = `berth-recovery-${probe.driver}-${process.pid}`;
    const agentOpts = (): Parameters<typeof startAgent>[0] => ({ servers: [server!.addr], dataDir: path.join(dir, 'agent'), nodeName: node, driver: probe.driver, dockerHost: probe.dockerHost });

    before(async () => {
      dir = await mkdtemp(path.join(tmpdir(), 'berth-recovery-'));
      server = await startServer(path.join(dir, 'server'));
      agent = await startAgent(agentOpts());
    });
    after(async () => {
      if (server) {
        await berth(['job', 'stop', job, '--purge', '--detach'], { addr: server.addr }).catch(() => undefined);
        await eventually('the tasks to be gone', async () => (await probe.taskIds(marker, node)).length === 0, 30_000).catch(() => undefined);
      }
      await agent?.stop();
      await server?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    it(`keeps the same ${COUNT} tasks running, restarts none and starts none twice, and reports them again`, async () => {
      const file = path.join(dir, `${job}.yaml`);
      await writeFile(file, jobYaml(probe.driver, job, marker));
      const run = await berth(['job', 'run', file], { addr: server!.addr, timeoutMs: 120_000 });
      assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}\nagent: ${agent?.logs().slice(-3000)}`);
      // A task is reported running once started; its processes may take a moment more to appear
      // on a loaded machine, so wait for all of them before killing the agent.
      const want = probe.driver === 'docker' ? COUNT : COUNT * 2;
      await eventually('every task process up', async () => (await probe.taskIds(marker, node)).length === want, 20_000).catch(() => undefined);
      const before = await probe.taskIds(marker, node);
      assert.equal(before.length, probe.driver === 'docker' ? COUNT : COUNT * 2, `tasks before the kill: ${before.join(' ')}`);

      await agent!.kill9();
      // The tasks outlive the agent.
      assert.deepEqual(await probe.taskIds(marker, node), before);
      agent = await startAgent(agentOpts());
      assert.match(agent.logs(), /recovered allocation/);

      // Re-reported: every allocation running with a Reattached event and no restart.
      const allocs = await eventually('every allocation reported running after the restart', async () => {
        const all = (await allocsOf(server!.addr, job)).filter((a) => a.desiredStatus === 'run');
        const reattached = all.filter((a) => a.clientStatus === 'running' && a.taskStates.main?.events.filter((e) => e.type === 'Reattached').length === 1);
        return reattached.length === COUNT ? all : undefined;
      }, 60_000);
      assert.equal(allocs.length, COUNT, 'no allocation was replaced');
      for (const a of allocs) {
        assert.equal(a.taskStates.main.restarts, 0, `${a.name} restarted`);
        assert.equal(a.taskStates.main.events.filter((e) => e.type === 'Started').length, 1, `${a.name} started twice`);
      }
      // Give a wrongly restarted or duplicated task time to show up before comparing.
      await new Promise((r) => setTimeout(r, 2000));
      assert.deepEqual(await probe.taskIds(marker, node), before, 'the very same tasks run, and no others');
    });
  });
}

const engine = dockerTestEngine();
if (engine) {
  const docker: Docker = connectDocker(engine.host);
  recoveryScenario({
    driver: 'docker',
    dockerHost: engine.host,
    async taskIds(_marker, node) {
      const list = await docker.listContainers({ filters: JSON.stringify({ label: [`berth.node=${node}`], status: ['running'] }) });
      return list.map((c) => c.Id).sort();
    },
  });
} else {
  describe('berth agent with the docker driver, killed with SIGKILL', () => {
    it('needs a Docker engine', (t) => {
      if (process.env.CI === 'true') assert.fail('no Docker engine: set BERTH_TEST_DOCKER_HOST');
      t.skip('no Docker engine (set BERTH_TEST_DOCKER_HOST, or run npm test)');
    });
  });
}

recoveryScenario({
  driver: 'process',
  async taskIds(marker) {
    return pidsWith(marker);
  },
});
