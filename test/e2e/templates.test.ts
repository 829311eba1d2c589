import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Allocation } from '../../src/model/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually, startDev } from '../harness/berth.ts';
import { requireDocker } from '../harness/dockerd.ts';

describe('task templates', { timeout: 240_000 }, () => {
  it('renders a file and env from a key; a key change re-renders and restarts the task', async (t) => {
    const dev = await startDev({ driver: 'process' });
    // Tasks outlive berth dev by design: stop the job before the server goes, or its task lingers.
    t.after(async () => {
      await berth(['job', 'stop', 'tpl', '--purge'], { addr: dev.addr, timeoutMs: 30_000 }).catch(() => undefined);
      await dev.cleanup();
    });
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-tpl-e2e-'));
    const log = path.join(dir, 'starts.log');
    await writeFile(log, '');
    assert.equal((await berth(['kv', 'put', 'cfg/web/port', '8080'], { addr: dev.addr })).code, 0);
    const job = path.join(dir, 'tpl.yaml');
    await writeFile(
      job,
      `id: tpl
groups:
  - name: g
    tasks:
      - name: web
        driver: process
        config: {command: /bin/sh, args: ["-c", "echo start $APP_PORT $(cat app.conf) >> ${log}; exec sleep 600"]}
        kill_timeout: 1s
        templates:
          - data: 'port={{key "cfg/web/port"}}'
            destination: app.conf
            change_mode: restart
          - data: 'APP_PORT={{key "cfg/web/port"}}'
            env: true
            change_mode: noop
`,
    );
    const run = await berth(['job', 'run', job], { addr: dev.addr, timeoutMs: 60_000 });
    assert.equal(run.code, 0, `${run.stderr}\n${dev.logs().slice(-2000)}`);
    const starts = async (): Promise<string[]> => (await readFile(log, 'utf8')).split('\n').filter(Boolean);
    await eventually('the first start', async () => (await starts()).length === 1);
    assert.deepEqual(await starts(), ['start 8080 port=8080']);
    await berth(['kv', 'put', 'cfg/web/port', '9090'], { addr: dev.addr });
    await eventually('a restart with the new value', async () => (await starts()).length === 2);
    assert.deepEqual(await starts(), ['start 8080 port=8080', 'start 9090 port=9090'], 'the restarted task reads the new file and env');
  });

  it('a key change re-renders the file and signals the docker task, which keeps its container and restart count', async (t) => {
    const engine = requireDocker(t);
    if (!engine) return;
    const dev = await startDev({ driver: 'docker', dockerHost: engine.host });
    const docker = connectDocker(engine.host);
    let allocId = '';
    t.after(async () => {
      await berth(['job', 'stop', 'tplsig', '--purge'], { addr: dev.addr, timeoutMs: 30_000 }).catch(() => undefined);
      if (allocId) {
        for (const c of await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.alloc=${allocId}`] }) })) {
          await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
        }
      }
      await dev.cleanup();
    });
    const dir = await mkdtemp(path.join(tmpdir(), 'berth-tpl-e2e-'));
    assert.equal((await berth(['kv', 'put', 'cfg/sig/port', '8080'], { addr: dev.addr })).code, 0);
    const job = path.join(dir, 'tplsig.yaml');
    // The task reads its config at start and again on SIGHUP, as a server reloading its config would.
    const script = "trap 'echo got-hup $(cat /local/app.conf)' HUP; echo started $(cat /local/app.conf); while true; do sleep 1; done";
    await writeFile(
      job,
      `id: tplsig
groups:
  - name: g
    tasks:
      - name: web
        driver: docker
        config: {image: ${engine.image}, command: /bin/sh, args: ["-c", ${JSON.stringify(script)}]}
        resources: {cpu: 50m, memory: 16Mi}
        kill_timeout: 1s
        templates:
          - data: 'port={{key "cfg/sig/port"}}'
            destination: local/app.conf
            change_mode: signal
            change_signal: SIGHUP
`,
    );
    const run = await berth(['job', 'run', job], { addr: dev.addr, timeoutMs: 90_000 });
    assert.equal(run.code, 0, `${run.stderr}\n${dev.logs().slice(-2000)}`);
    const alloc = async (): Promise<Allocation> => {
      const all = (await (await fetch(`${dev.addr}/v1/jobs/tplsig/allocations`)).json()) as Allocation[];
      assert.equal(all.length, 1);
      return all[0];
    };
    const running = await eventually('the task running', async () => ((await alloc()).taskStates.web?.state === 'running' ? alloc() : undefined), 60_000);
    allocId = running.id;
    const containers = async (): Promise<string[]> =>
      (await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.alloc=${allocId}`] }) })).map((c) => c.Id);
    const before = await containers();
    assert.equal(before.length, 1, 'one container for the task');
    const logs = async (): Promise<string> => (await fetch(`${dev.addr}/v1/allocations/${allocId}/logs?task=web&type=stdout`)).text();
    await eventually('the task started with the first config', async () => (await logs()).includes('started port=8080'));

    assert.equal((await fetch(`${dev.addr}/v1/kv/cfg/sig/port`, { method: 'PUT', body: '9090' })).status, 200);
    await eventually('the task got SIGHUP and read the new config', async () => (await logs()).includes('got-hup port=9090'), 20_000);
    const after = await alloc();
    assert.equal(after.taskStates.web.state, 'running');
    assert.equal(after.taskStates.web.restarts, 0, 'the task was signalled, not restarted');
    assert.ok(after.taskStates.web.events.some((e) => e.type === 'Signaling' && /SIGHUP/.test(e.message)), 'a Signaling event says what happened');
    assert.ok(!after.taskStates.web.events.some((e) => e.type === 'Restarting'), 'no Restarting event');
    assert.deepEqual(await containers(), before, 'the same container still runs the task');
    assert.equal((await logs()).match(/started/g)?.length, 1, 'the task started once');
    const cli = await berth(['alloc', 'logs', allocId, 'web'], { addr: dev.addr });
    assert.match(cli.stdout, /^started port=8080\ngot-hup port=9090\n/, 'the CLI shows the same output');
  });
});
