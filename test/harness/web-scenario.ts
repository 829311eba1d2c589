import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import path from 'node:path';
import { spawn } from 'node:child_process';
import type { Allocation } from '../../src/model/index.ts';
import { berth, eventually, startDev, type DevProcess } from './berth.ts';

const fixtures = path.resolve(import.meta.dirname, '../fixtures');
const bin = path.resolve(import.meta.dirname, '../../bin/berth.js');

/** How a scenario reaches behind berth's back to the tasks, per driver. */
export interface TaskProbe {
  driver: 'docker' | 'process';
  dockerHost?: string;
  /** Kill the task of an allocation the way a crash would (not through berth). */
  kill(alloc: Allocation): Promise<void>;
  /** Tasks of berth still present on the host (containers, or live processes). */
  leftovers(allocs: Allocation[]): Promise<string[]>;
  /** The id the driver knows the task by (container id or pid), to tell a restart from a reattach. */
  taskId(alloc: Allocation): Promise<string>;
}

async function allocsOf(addr: string, job: string): Promise<Allocation[]> {
  const res = await berth(['job', 'status', job, '--json'], { addr });
  assert.equal(res.code, 0, res.stderr);
  return (JSON.parse(res.stdout) as { allocations: Allocation[] }).allocations;
}

async function get(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(3000) });
  return res.text();
}

/**
 * The walking-skeleton scenario, as a user lives it: `berth dev`, then `berth job run` of three
 * busybox httpd replicas on dynamic ports, each answering on its host port; a crashed task is
 * restarted by policy; logs are readable; the agent survives a restart without touching its
 * tasks; `berth job stop` leaves nothing behind; an invalid spec is refused and stores nothing.
 */
export function webScenario(probe: TaskProbe, file: string): void {
  describe(`berth dev with the ${probe.driver} driver`, { timeout: 240_000 }, () => {
    let dev: DevProcess;
    let allocs: Allocation[] = [];

    before(async () => {
      dev = await startDev({ driver: probe.driver, dockerHost: probe.dockerHost });
    });
    after(async () => {
      await berth(['job', 'stop', 'web', '--purge', '--detach'], { addr: dev.addr }).catch(() => undefined);
      await dev.cleanup();
    });

    it('job run places three replicas and returns once all run', async () => {
      const res = await berth(['job', 'run', path.join(fixtures, file)], { addr: dev.addr, timeoutMs: 90_000 });
      assert.equal(res.code, 0, `stdout: ${res.stdout}\nstderr: ${res.stderr}\nserver: ${dev.logs().slice(-3000)}`);
      assert.match(res.stderr, /3 desired, 3 placed, 3 running/);
      allocs = await allocsOf(dev.addr, 'web');
      assert.equal(allocs.length, 3);
      assert.ok(allocs.every((a) => a.clientStatus === 'running'));
    });

    it('job status shows each allocation with its host port', async () => {
      const res = await berth(['job', 'status', 'web'], { addr: dev.addr });
      assert.equal(res.code, 0, res.stderr);
      for (const a of allocs) assert.match(res.stdout, new RegExp(`${a.id.slice(0, 8)}.*running.*http=${a.ports[0].value}`));
      assert.equal(new Set(allocs.map((a) => a.ports[0].value)).size, 3, 'three distinct host ports');
    });

    it('each replica answers HTTP on its host port', async () => {
      for (const a of allocs) {
        const body = await eventually(`HTTP on port ${a.ports[0].value}`, () => get(`http://127.0.0.1:${a.ports[0].value}/`));
        assert.equal(body.trim(), `hello from ${a.name}`);
      }
    });

    it('alloc logs prints the task output', async () => {
      const a = allocs[0];
      const res = await berth(['alloc', 'logs', a.id.slice(0, 8)], { addr: dev.addr });
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, new RegExp(`starting ${a.name.replace(/[[\]]/g, '\\$&')} on \\d+`));
    });

    it('alloc logs -f follows new output as the task writes it', async () => {
      const res = await berth(['job', 'run', path.join(fixtures, `ticker-${probe.driver}.yaml`)], { addr: dev.addr, timeoutMs: 60_000 });
      assert.equal(res.code, 0, res.stderr);
      const ticker = (await allocsOf(dev.addr, 'ticker'))[0];
      const child = spawn(process.execPath, [bin, 'alloc', 'logs', ticker.id, '-f'], { env: { ...process.env, BERTH_ADDR: dev.addr } });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d));
      const firstTick = await eventually('a first tick', async () => /tick (\d+)/.exec(out)?.[1]);
      await eventually('later ticks while following', async () => [...out.matchAll(/tick (\d+)/g)].length >= 3, 10_000);
      const ticks = [...out.matchAll(/tick (\d+)/g)].map((m) => Number(m[1]));
      child.kill('SIGINT');
      assert.ok(Math.max(...ticks) > Number(firstTick), `new lines arrived: ${ticks.join(',')}`);
      assert.deepEqual(ticks, [...ticks].sort((a, b) => a - b), 'in order');
      assert.equal((await berth(['job', 'stop', 'ticker', '--purge'], { addr: dev.addr })).code, 0);
    });

    it('a task killed behind berth\'s back is restarted by its restart policy', async () => {
      const victim = allocs[2];
      const oldId = await probe.taskId(victim);
      await probe.kill(victim);
      const restarted = await eventually(
        'the killed task to run again',
        async () => {
          const a = (await allocsOf(dev.addr, 'web')).find((x) => x.id === victim.id);
          const t = a && Object.values(a.taskStates)[0];
          return t && t.restarts >= 1 && t.state === 'running' && a.clientStatus === 'running' ? a : undefined;
        },
        30_000,
      );
      assert.notEqual(await probe.taskId(restarted), oldId, 'a new task instance');
      const body = await eventually('HTTP after restart', () => get(`http://127.0.0.1:${victim.ports[0].value}/`));
      assert.equal(body.trim(), `hello from ${victim.name}`);
      const status = await berth(['alloc', 'status', victim.id.slice(0, 8)], { addr: dev.addr });
      assert.match(status.stdout, /Terminated/);
      assert.match(status.stdout, /Restarting/);
    });

    it('restarting berth dev reattaches to the running tasks without restarting them', async () => {
      const before = await Promise.all(allocs.map((a) => probe.taskId(a)));
      assert.equal(await dev.stop(), 0, `clean exit on SIGTERM:\n${dev.logs().slice(-2000)}`);
      for (const a of allocs) assert.ok((await get(`http://127.0.0.1:${a.ports[0].value}/`)).includes('hello'), 'tasks keep serving while berth is down');
      const port = Number(new URL(dev.addr).port);
      dev = await startDev({ driver: probe.driver, dockerHost: probe.dockerHost, dataDir: dev.dataDir, port });
      const now = await eventually('allocations running after restart', async () => {
        const list = await allocsOf(dev.addr, 'web');
        return list.length === 3 && list.every((a) => a.clientStatus === 'running') ? list : undefined;
      });
      const after = await Promise.all(now.map((a) => probe.taskId(a)));
      assert.deepEqual(after.sort(), before.sort(), 'the same containers or processes');
      assert.match(dev.logs(), /recovered allocation/);
    });

    it('job stop removes every task', async () => {
      const res = await berth(['job', 'stop', 'web'], { addr: dev.addr, timeoutMs: 60_000 });
      assert.equal(res.code, 0, res.stderr);
      const left = await eventually('no tasks left', async () => ((await probe.leftovers(allocs)).length === 0 ? [] : undefined), 20_000).catch(
        async () => probe.leftovers(allocs),
      );
      assert.deepEqual(left, []);
      for (const a of allocs) await assert.rejects(get(`http://127.0.0.1:${a.ports[0].value}/`));
    });

    it('an invalid spec exits 1, names the path, and stores nothing', async () => {
      const res = await berth(['job', 'run', path.join(fixtures, 'invalid.yaml')], { addr: dev.addr });
      assert.equal(res.code, 1);
      assert.match(res.stderr, /groups\[0\]\.tasks\[1\]\.resources\.memory/);
      const jobs = await berth(['job', 'status', '--json'], { addr: dev.addr });
      assert.ok(!(JSON.parse(jobs.stdout) as { id: string }[]).some((j) => j.id === 'broken'));
      // The server refuses it too, with the same path, for clients that skip the CLI.
      const direct = await fetch(`${dev.addr}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/yaml' },
        body: 'id: broken\ngroups: [{name: g, tasks: [{name: t, driver: docker, config: {image: x}, resources: {memory: -5}}]}]\n',
      });
      assert.equal(direct.status, 400);
      const body = (await direct.json()) as { error: { code: string; details: { path: string }[] } };
      assert.equal(body.error.code, 'invalid_input');
      assert.ok(body.error.details.some((d) => d.path === 'groups[0].tasks[0].resources.memory'));
    });
  });
}
