/**
 * Parameterized and periodic jobs through the real CLI on `berth dev` with the process driver:
 * dispatch with meta and a payload, refused dispatches, force, runs, status, graph.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { berth, eventually, startDev } from '../harness/berth.ts';

test('job dispatch hands meta as env and the payload as a file; bad input creates nothing', async (t) => {
  const dev = await startDev({ driver: 'process' });
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-dispatch-'));
  t.after(async () => {
    await dev.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const cli = (...args: string[]): ReturnType<typeof berth> => berth(args, { addr: dev.addr });
  const out = path.join(dir, 'out.txt');
  const spec = {
    id: 'greet',
    type: 'batch',
    parameterized: { payload: 'optional', meta_required: ['who'], meta_optional: ['mood'] },
    groups: [
      {
        name: 'g',
        tasks: [
          {
            name: 't',
            driver: 'process',
            config: { command: '/bin/sh', args: ['-c', `echo "hello $BERTH_META_who $(cat $BERTH_PAYLOAD_FILE)" > ${out}`] },
            resources: { cpu: 0.1, memory: '32MiB' },
          },
        ],
      },
    ],
  };
  const specFile = path.join(dir, 'greet.json');
  await writeFile(specFile, JSON.stringify(spec));
  assert.equal((await cli('job', 'run', '--detach', specFile)).code, 0);

  const missing = await cli('job', 'dispatch', 'greet');
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /meta.who required by the job/);
  const extra = await cli('job', 'dispatch', 'greet', '--meta', 'who=x', '--meta', 'colour=red');
  assert.match(extra.stderr, /meta.colour not allowed; the job takes who, mood/);
  const big = path.join(dir, 'big.bin');
  await writeFile(big, Buffer.alloc(17 * 1024, 1));
  assert.match((await cli('job', 'dispatch', 'greet', '--meta', 'who=x', big)).stderr, /over the limit of 16 KiB/);
  assert.match((await cli('job', 'runs', 'greet')).stdout, /has not run yet/, 'refused dispatches created nothing');

  const payload = path.join(dir, 'payload.txt');
  await writeFile(payload, 'from-a-file');
  const ok = await cli('job', 'dispatch', 'greet', '--meta', 'who=ann', payload);
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stdout, /Dispatched greet\/dispatch-\d+-/);
  await eventually('the dispatched task to write', async () => (await readFile(out, 'utf8').catch(() => '')).includes('hello'));
  assert.equal((await readFile(out, 'utf8')).trim(), 'hello ann from-a-file');
  const runs = await eventually('the run to complete', async () => {
    const r = await cli('job', 'runs', 'greet');
    return /dispatch\s+complete/.test(r.stdout) && r.stdout;
  });
  assert.match(runs, /greet\/dispatch-/);
});

test('job periodic force, runs, status with next launches, and graph --dot', async (t) => {
  const dev = await startDev({ driver: 'process' });
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-periodic-'));
  t.after(async () => {
    await dev.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const cli = (...args: string[]): ReturnType<typeof berth> => berth(args, { addr: dev.addr });
  const file = path.join(dir, 'report.yaml');
  await writeFile(
    file,
    [
      'id: report',
      'type: batch',
      'periodic: {cron: "0 3 * * *", time_zone: Europe/Paris}',
      'groups:',
      '  - name: g',
      '    tasks: [{name: t, driver: process, config: {command: /bin/true}, resources: {cpu: 0.1, memory: 32MiB}}]',
      'after: [extract]',
    ].join('\n'),
  );
  assert.equal((await cli('job', 'run', '--detach', file)).code, 0);
  const status = await cli('job', 'status', 'report');
  assert.match(status.stdout, /Next launches \(0 3 \* \* \*, Europe\/Paris\):\n {2}\d{4}-\d\d-\d\dT0[12]:00:00.000Z/);
  const forced = await cli('job', 'periodic', 'force', 'report');
  assert.match(forced.stdout, /Launched report\/periodic-\d+-force/);
  await eventually('the forced run to complete', async () => /force\s+complete/.test((await cli('job', 'runs', 'report')).stdout));
  const dot = await cli('job', 'graph', '--dot');
  assert.match(dot.stdout, /"extract" -> "report";/);
  assert.match(dot.stdout, /"report" \[shape=box, color=green\]/);
});
