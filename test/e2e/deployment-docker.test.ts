import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Deployment, Job } from '../../src/model/index.ts';
import { berth, eventually, freePort, startDev, type DevProcess } from '../harness/berth.ts';
import { withDockerEngine } from '../harness/dockerd.ts';

/** A 4-instance httpd answering its version, with an http check, rolled one at a time. */
function webSpec(image: string, version: string, checkPath = '/index.html', canary = 0): string {
  return `
id: roll
update:
  canary: ${canary}
  max_parallel: 1
  health_check: checks
  min_healthy_time: 1s
  healthy_deadline: 8s
  progress_deadline: 20s
  auto_revert: true
groups:
  - name: web
    count: 4
    ports: [{label: http, to: 8080}]
    services:
      - name: roll
        port: http
        checks:
          - {type: http, path: ${checkPath}, interval: 300ms, timeout: 250ms}
    tasks:
      - name: httpd
        driver: docker
        env: {VERSION: ${version}}
        config:
          image: ${image}
          command: /bin/sh
          args: ["-c", "mkdir -p /www && echo $VERSION > /www/index.html && exec httpd -f -p 8080 -h /www"]
        resources: {cpu: 50m, memory: 16Mi}
        kill_timeout: 1s
`;
}

withDockerEngine('deployments on docker', (engine) => {
  describe('deployments on docker', { timeout: 240_000 }, () => {
    let dev: DevProcess;
    let dir: string;
    const resolver = new Resolver({ timeout: 300, tries: 1 });
    const file = (name: string): string => path.join(dir, name);

    /** A client resolving through berth's DNS and requesting every 50 ms; and the passing count every 100 ms. */
    function traffic(): { stop: () => Promise<{ ok: number; failed: string[]; minPassing: number; versions: Set<string> }> } {
      let stopped = false;
      const failed: string[] = [];
      const versions = new Set<string>();
      let ok = 0;
      let minPassing = Infinity;
      const client = (async () => {
        while (!stopped) {
          try {
            const [srv] = await resolver.resolveSrv('_roll._tcp.service.berth');
            const res = await fetch(`http://127.0.0.1:${srv.port}/index.html`, { signal: AbortSignal.timeout(1_000) });
            if (res.status !== 200) failed.push(`HTTP ${res.status} from ${srv.port}`);
            else {
              ok++;
              versions.add((await res.text()).trim());
            }
          } catch (err) {
            failed.push((err as Error).message);
          }
          await new Promise((r) => setTimeout(r, 50));
        }
      })();
      const watcher = (async () => {
        while (!stopped) {
          const res = await fetch(`${dev.addr}/v1/health/service/roll?passing`).catch(() => undefined);
          if (res?.ok) minPassing = Math.min(minPassing, ((await res.json()) as unknown[]).length);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      return {
        stop: async () => {
          stopped = true;
          await Promise.all([client, watcher]);
          return { ok, failed, minPassing, versions };
        },
      };
    }

    const job = async (): Promise<Job> => (await (await fetch(`${dev.addr}/v1/jobs/roll`)).json()) as Job;

    before(async () => {
      const dnsPort = await freePort();
      dev = await startDev({ driver: 'docker', dockerHost: engine.host, args: ['--dns-addr', `127.0.0.1:${dnsPort}`] });
      resolver.setServers([`127.0.0.1:${dnsPort}`]);
      dir = await mkdtemp(path.join(tmpdir(), 'berth-roll-'));
      await writeFile(file('v1.yaml'), webSpec(engine.image, 'v1'));
      await writeFile(file('v2.yaml'), webSpec(engine.image, 'v2'));
      await writeFile(file('v3.yaml'), webSpec(engine.image, 'v3', '/missing.html'));
      await writeFile(file('v4.yaml'), webSpec(engine.image, 'v4', '/index.html', 1));
      const run = await berth(['job', 'run', file('v1.yaml')], { addr: dev.addr, timeoutMs: 90_000 });
      assert.equal(run.code, 0, run.stderr);
    });

    after(async () => {
      if (dev) await berth(['job', 'stop', '--purge', 'roll'], { addr: dev.addr, timeoutMs: 60_000 }).catch(() => undefined);
      await dev?.cleanup();
      if (dir) await rm(dir, { recursive: true, force: true });
    });

    it('rolls v1 to v2 one at a time while a DNS client keeps getting answers', async () => {
      const load = traffic();
      const run = await berth(['job', 'run', file('v2.yaml')], { addr: dev.addr, timeoutMs: 120_000 });
      const seen = await load.stop();
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stderr, /web: 4 desired, 4 placed, 4 healthy, 0 unhealthy/);
      assert.ok(seen.minPassing >= 3, `at least 3 instances passing throughout, saw ${seen.minPassing}`);
      // One request in flight on each of the 4 stopping instances, at most.
      assert.ok(seen.failed.length <= 4, `failed requests: ${seen.failed.length} of ${seen.ok + seen.failed.length}: ${seen.failed.slice(0, 5).join('; ')}`);
      assert.ok(seen.versions.has('v2'));
      const history = await berth(['job', 'history', 'roll', '--diff'], { addr: dev.addr });
      assert.match(history.stdout, /~ env.VERSION: "v1" => "v2"/);
    });

    it('fails a broken v3 at healthy_deadline and rolls back to v2', async () => {
      const run = await berth(['job', 'run', file('v3.yaml')], { addr: dev.addr, timeoutMs: 120_000 });
      assert.equal(run.code, 1, run.stderr);
      assert.match(run.stderr, /not healthy within healthy_deadline 8s.*rolling back to job version 1/s);
      const reverted = await eventually('the job back on v2', async () => {
        const j = await job();
        return j.version === 3 && j.groups[0].tasks[0].env.VERSION === 'v2' ? j : undefined;
      }, 30_000);
      const res = await fetch(`${dev.addr}/v1/jobs/roll/deployment`);
      const d = (await res.json()) as Deployment;
      assert.equal(d.jobVersion, reverted.version);
      await eventually('the rollback deployment successful', async () => ((await (await fetch(`${dev.addr}/v1/deployments/${d.id}`)).json()) as Deployment).status === 'successful', 60_000);
    });

    it('refuses a stale --check-index and changes nothing', async () => {
      const plan = await berth(['job', 'plan', file('v1.yaml')], { addr: dev.addr });
      assert.equal(plan.code, 1, plan.stderr);
      const index = Number(/Job modify index: (\d+)/.exec(plan.stdout)?.[1]);
      assert.match(plan.stdout, /needs new allocations because of: tasks.httpd.env.VERSION/);
      const before = await job();
      const stale = await berth(['job', 'run', '--check-index', String(index - 1), '--detach', file('v1.yaml')], { addr: dev.addr });
      assert.equal(stale.code, 1);
      assert.match(stale.stderr, new RegExp(`current modify index ${index}`));
      assert.equal((await job()).version, before.version);
      const same = await berth(['job', 'plan', file('v2.yaml')], { addr: dev.addr });
      assert.equal(same.code, 0, same.stdout + same.stderr);
    });

    it('places one canary and waits for `deployment promote`', async () => {
      const run = await berth(['job', 'run', '--detach', '--json', file('v4.yaml')], { addr: dev.addr });
      assert.equal(run.code, 0, run.stderr);
      const { deploymentId } = JSON.parse(run.stdout) as { deploymentId: string };
      await eventually('the canary healthy', async () => {
        const d = (await (await fetch(`${dev.addr}/v1/deployments/${deploymentId}`)).json()) as Deployment;
        return d.groups.web.canaries.length === 1 && d.groups.web.healthy === 1;
      }, 30_000);
      await new Promise((r) => setTimeout(r, 1_500));
      const status = await berth(['deployment', 'status', deploymentId.slice(0, 8)], { addr: dev.addr });
      assert.match(status.stdout, /canaries 1\/1 \(waiting for promote\)/);
      const allocs = (await (await fetch(`${dev.addr}/v1/jobs/roll/allocations`)).json()) as { jobVersion: number; desiredStatus: string }[];
      const live = allocs.filter((a) => a.desiredStatus === 'run').map((a) => a.jobVersion);
      assert.equal(live.length, 5, 'the canary runs beside the 4 old instances');
      const promote = await berth(['deployment', 'promote', deploymentId], { addr: dev.addr });
      assert.equal(promote.code, 0, promote.stderr);
      const watch = await berth(['deployment', 'status', '--watch', deploymentId], { addr: dev.addr, timeoutMs: 90_000 });
      assert.equal(watch.code, 0, watch.stderr);
      assert.match(watch.stderr, /successful/);
    });
  });
});
