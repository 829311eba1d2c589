import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { berth, eventually, startDev } from '../harness/berth.ts';

describe('task templates', { timeout: 120_000 }, () => {
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
});
