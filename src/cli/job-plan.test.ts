import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BerthClient } from '../api/index.ts';
// The CLI is the composition root: it may start a server and an agent, and its tests do, in process.
import { Agent } from '../agent/index.ts';
import { MockMachine, mockDrivers } from '../drivers/index.ts';
import { silentLogger } from '../lib/index.ts';
import { Server } from '../server/index.ts';
import { MemoryBackend } from '../state/index.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/berth.js');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-plan-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

/** Run the real CLI, as a user would, without the caller's BERTH_* settings. */
function berth(args: string[], env: Record<string, string>): Promise<Result> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BERTH_')));
  return new Promise((resolve) => {
    execFile(process.execPath, [bin, ...args], { cwd: tmp, env: { ...clean, NO_COLOR: '1', ...env }, timeout: 60_000, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

const spec = (count: number, extra = ''): string =>
  ['id: planned', 'groups:', '  - name: web', `    count: ${count}`, '    tasks:', '      - name: t', '        driver: process', '        config: {command: run}', extra].join('\n');

function write(name: string, text: string): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('berth job plan exit codes', { concurrency: 3, timeout: 180_000 }, () => {
  let server: Server;
  let agent: Agent;
  const machine = new MockMachine();
  const env = (): Record<string, string> => ({ BERTH_ADDR: server.url });

  before(async () => {
    server = await Server.start({ backend: new MemoryBackend(), logger: silentLogger(), port: 0 });
    agent = await Agent.start({ serverUrl: server.url, dataDir: path.join(tmp, 'agent'), logger: silentLogger(), drivers: mockDrivers({ machine }), nodeName: 'a1' });
    // A job already running at count 2: the base of the no-change and change cases.
    await new BerthClient({ address: server.url }).registerJob(spec(2));
    const end = Date.now() + 20_000;
    while (server.view.allocsByJob('planned').filter((a) => a.clientStatus === 'running').length < 2) {
      if (Date.now() > end) assert.fail('the job did not start');
      await new Promise((r) => setTimeout(r, 20));
    }
  });
  after(async () => {
    await agent.stop({ stopTasks: true });
    machine.crash();
    await server.stop();
  });

  it('exits 0 when nothing would change', async () => {
    const r = await berth(['job', 'plan', write('same.yaml', spec(2))], env());
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^Job "planned": unchanged/);
  });

  it('exits 1 when something would change, and changes nothing', async () => {
    const version = server.view.job('planned')?.version;
    const r = await berth(['job', 'plan', write('more.yaml', spec(3))], env());
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /~ count: 2 => 3/);
    assert.equal(r.stderr, '');
    assert.equal(server.view.job('planned')?.version, version);
    assert.equal(server.view.job('planned')?.groups[0].count, 2);
  });

  it('exits 255 on a job file that does not exist', async () => {
    const r = await berth(['job', 'plan', 'missing.yaml'], env());
    assert.equal(r.code, 255);
    assert.equal(r.stderr, 'Error: Cannot read job file missing.yaml: no such file\n');
    assert.equal(r.stdout, '');
  });

  it('exits 255 on an invalid job file, naming the path of the problem', async () => {
    const r = await berth(['job', 'plan', write('bad.yaml', spec(-1))], env());
    assert.equal(r.code, 255);
    assert.match(r.stderr, /^Error: Invalid job spec .*bad\.yaml/);
    assert.match(r.stderr, /groups\[0\]\.count/);
  });

  it('refuses a job file over the server\'s 4 MiB body limit before sending it, in run and plan', async () => {
    const big = write('big.yaml', `${spec(2)}\n# ${'x'.repeat(4 * 1024 * 1024)}\n`);
    const plan = await berth(['job', 'plan', big], env());
    assert.equal(plan.code, 255);
    assert.match(plan.stderr, /^Error: Cannot submit job file .*big\.yaml: it is 4\.0 MiB and a server takes at most 4 MiB/);
    const version = server.view.job('planned')?.version;
    const run = await berth(['job', 'run', big], env());
    assert.equal(run.code, 1);
    assert.match(run.stderr, /Cannot submit job file .*big\.yaml/);
    assert.equal(server.view.job('planned')?.version, version);
  });

  it('exits 255 when no server answers, saying which address it tried', async () => {
    const r = await berth(['job', 'plan', write('unreachable.yaml', spec(2))], { BERTH_ADDR: 'http://127.0.0.1:1' });
    assert.equal(r.code, 255);
    assert.match(r.stderr, /^Error: Cannot reach the berth server at http:\/\/127\.0\.0\.1:1/);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });

  it('exits 255 when the server refuses the spec, with its reason', async () => {
    // Valid to the CLI (a `__proto__` key is plain data to jobspec/), refused by the server's JSON
    // body parser, which forbids prototype keys (a 400).
    const json = JSON.stringify({ id: 'planned', meta: { ['__proto__']: 'x' }, groups: [{ name: 'web', count: 2, tasks: [{ name: 't', driver: 'process', config: { command: 'run' } }] }] });
    const file = write('proto.json', json);
    assert.match(json, /"meta":\{"__proto__":"x"\}/);
    const version = server.view.job('planned')?.version;
    const r = await berth(['job', 'plan', file], env());
    assert.equal(r.code, 255, r.stdout + r.stderr);
    assert.match(r.stderr, /^Error: Invalid request: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.equal(r.stdout, '');
    assert.equal(server.view.job('planned')?.version, version);
  });
});
