import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { after, before, describe, it } from 'node:test';
import type Docker from 'dockerode';
import { BerthClient } from '../../src/api/index.ts';
import type { Allocation } from '../../src/model/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually, freePort, startDev, type DevProcess } from '../harness/berth.ts';
import { withDockerEngine } from '../harness/dockerd.ts';

/** Three httpd instances with an http check; no update block, so a restart replaces them at once. */
function opsSpec(image: string): string {
  return `
id: ops
groups:
  - name: web
    count: 3
    ports: [{label: http, to: 8080}]
    services:
      - name: ops
        port: http
        checks:
          - {type: http, path: /index.html, interval: 300ms, timeout: 250ms}
    tasks:
      - name: httpd
        driver: docker
        config:
          image: ${image}
          command: /bin/sh
          args: ["-c", "mkdir -p /www && echo $BERTH_ALLOC_ID > /www/index.html && exec httpd -f -p 8080 -h /www"]
        resources: {cpu: 50m, memory: 16Mi}
        kill_timeout: 1s
`;
}

withDockerEngine('job restart and scale on docker', (engine) => {
  describe('job restart and scale on docker', { timeout: 120_000 }, () => {
    const docker: Docker = connectDocker(engine.host);
    let dev: DevProcess;
    const resolver = new Resolver({ timeout: 300, tries: 1 });
    /** Every allocation id the job ever had, for the clean-up. */
    const seenAllocs = new Set<string>();

    const allocs = async (): Promise<Allocation[]> => {
      const list = (await (await fetch(`${dev.addr}/v1/jobs/ops/allocations`)).json()) as Allocation[];
      for (const a of list) seenAllocs.add(a.id);
      return list;
    };
    const running = async (): Promise<Allocation[]> => (await allocs()).filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running');
    /** The job's running containers: alloc id -> container id. */
    const containers = async (): Promise<Map<string, string>> => {
      const list = await docker.listContainers({ filters: JSON.stringify({ label: ['berth.alloc'], status: ['running'] }) });
      const ids = new Set((await allocs()).map((a) => a.id));
      return new Map(list.filter((c) => ids.has(c.Labels['berth.alloc'])).map((c) => [c.Labels['berth.alloc'], c.Id]));
    };
    /** Containers, running or not, of any allocation the job had. */
    const leftovers = async (): Promise<Docker.ContainerInfo[]> =>
      (await docker.listContainers({ all: true, filters: JSON.stringify({ label: ['berth.alloc'] }) })).filter((c) => seenAllocs.has(c.Labels['berth.alloc']));
    const passing = async (): Promise<number> => ((await (await fetch(`${dev.addr}/v1/health/service/ops?passing`)).json()) as unknown[]).length;

    before(async () => {
      const dnsPort = await freePort();
      dev = await startDev({ driver: 'docker', dockerHost: engine.host, args: ['--dns-addr', `127.0.0.1:${dnsPort}`] });
      resolver.setServers([`127.0.0.1:${dnsPort}`]);
      // Set up through the API: `job run` has its own tests, and each CLI start costs a second or more.
      await new BerthClient({ address: dev.addr }).registerJob(opsSpec(engine.image));
      await eventually('3 instances passing their checks', async () => (await passing()) === 3, 40_000);
    });

    after(async () => {
      if (dev) {
        await new BerthClient({ address: dev.addr }).stopJob('ops', true).catch(() => undefined);
        await eventually('the containers removed', async () => (await leftovers()).length === 0, 20_000).catch(() => undefined);
      }
      await dev?.cleanup();
      // Whatever the agent did not remove (a failed test), so the shared dockerd stays clean.
      await Promise.all((await leftovers()).map((c) => docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined)));
    });

    it('restarts in batches: every container replaced, never more than a batch down, the service answering throughout', async () => {
      const before = await containers();
      assert.equal(before.size, 3);
      let stopped = false;
      let minRunning = Infinity;
      let minPassing = Infinity;
      let ok = 0;
      const failed: string[] = [];
      const answeredBy = new Set<string>();
      const sampler = (async () => {
        while (!stopped) {
          minRunning = Math.min(minRunning, (await running()).length);
          minPassing = Math.min(minPassing, await passing());
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const client = (async () => {
        while (!stopped) {
          try {
            const [srv] = await resolver.resolveSrv('_ops._tcp.service.berth');
            const res = await fetch(`http://127.0.0.1:${srv.port}/index.html`, { signal: AbortSignal.timeout(1_000) });
            if (res.status === 200) {
              ok++;
              answeredBy.add((await res.text()).trim());
            } else failed.push(`HTTP ${res.status}`);
          } catch (err) {
            failed.push((err as Error).message);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const restart = await berth(['job', 'restart', 'ops', '--group', 'web', '--batch-size', '1'], { addr: dev.addr, timeoutMs: 60_000 });
      stopped = true;
      await Promise.all([sampler, client]);
      assert.equal(restart.code, 0, restart.stderr);
      assert.equal(restart.stderr.match(/^Restarting 1 allocation\(s\)/gm)?.length, 3, restart.stderr);
      // The result on stdout, the progress on stderr.
      assert.match(restart.stdout, /^Job "ops": 3 allocation\(s\) restarted$/m);

      const after = await containers();
      assert.equal(after.size, 3);
      for (const [allocId, containerId] of after) {
        assert.ok(!before.has(allocId), `allocation ${allocId} is a replacement`);
        assert.ok(![...before.values()].includes(containerId), 'a new container');
      }
      assert.ok(minRunning >= 2, `one allocation down at a time, saw ${minRunning} running`);
      assert.ok(minPassing >= 1, 'some instance passed its check throughout');
      // A request in flight on each of the 3 stopping instances may fail, no more.
      assert.ok(failed.length <= 3, `failed requests: ${failed.length} of ${ok + failed.length}: ${failed.slice(0, 5).join('; ')}`);
      assert.ok(ok >= 10, `the client kept getting answers (${ok})`);
      assert.ok([...after.keys()].some((id) => answeredBy.has(id)), 'the replacements answered');
    });

    it('scales up and down in place, changing the running containers', async () => {
      const before = await containers();
      const up = await berth(['job', 'scale', 'ops', 'web', '5'], { addr: dev.addr, timeoutMs: 60_000 });
      assert.equal(up.code, 0, up.stderr);
      const five = await eventually('5 running containers', async () => {
        const c = await containers();
        return c.size === 5 && c;
      });
      for (const [allocId, containerId] of before) assert.equal(five.get(allocId), containerId, 'the running ones were left alone');
      await eventually('5 instances passing', async () => (await passing()) === 5);

      const down = await berth(['job', 'scale', 'ops', '2'], { addr: dev.addr, timeoutMs: 60_000 });
      assert.equal(down.code, 0, down.stderr);
      const two = await eventually('2 running containers', async () => {
        const c = await containers();
        return c.size === 2 && c;
      });
      const kept = (await running()).map((a) => a.index).sort();
      assert.deepEqual(kept, [0, 1], 'the highest slots went first');
      for (const [allocId, containerId] of two) assert.equal(five.get(allocId), containerId);
      await eventually('2 instances in the catalog', async () => (await passing()) === 2);
      const job = (await (await fetch(`${dev.addr}/v1/jobs/ops`)).json()) as { groups: { count: number }[] };
      assert.equal(job.groups[0].count, 2);
    });
  });
});
