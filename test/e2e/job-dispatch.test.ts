/**
 * Parameterized and periodic jobs through the real CLI on `berth dev` with the process driver:
 * dispatch with meta and a payload, refused dispatches, force, runs, status, graph; and a
 * dispatch on the docker driver, whose container reads the payload from /local.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Allocation } from '../../src/model/index.ts';
import { connectDocker } from '../../src/drivers/index.ts';
import { berth, eventually, startDev } from '../harness/berth.ts';
import { requireDocker } from '../harness/dockerd.ts';

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

  // An idempotency token: the second dispatch names the first one's child and creates nothing.
  const once = await cli('job', 'dispatch', 'greet', '--meta', 'who=tok', '--idempotency-token', 'order-1', payload);
  assert.equal(once.code, 0, once.stderr);
  const twice = await cli('job', 'dispatch', 'greet', '--meta', 'who=tok', '--idempotency-token', 'order-1', payload);
  assert.equal(twice.stdout, once.stdout);
  assert.match(once.stdout, /^Dispatched greet\/dispatch-[0-9a-f]{16} \(idempotency token order-1\)\n$/);
  assert.equal((await cli('job', 'runs', 'greet')).stdout.match(/greet\/dispatch-/g)?.length, 2, 'two runs: the first dispatch and the one with the token');
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

test('a dispatched docker task reads its payload at /local and its meta from the env', async (t) => {
  const engine = requireDocker(t);
  if (!engine) return;
  const dev = await startDev({ driver: 'docker', dockerHost: engine.host });
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-dispatch-docker-'));
  const cli = (...args: string[]): ReturnType<typeof berth> => berth(args, { addr: dev.addr });
  const made: { allocId?: string } = {};
  t.after(async () => {
    await dev.cleanup();
    // A finished batch allocation keeps its container (for its logs) until it is collected: remove it.
    if (made.allocId) {
      const docker = connectDocker(engine.host);
      const left = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.alloc=${made.allocId}`] }) });
      await Promise.all(left.map((c) => docker.getContainer(c.Id).remove({ force: true })));
    }
    await rm(dir, { recursive: true, force: true });
  });
  const spec = {
    id: 'echoer',
    type: 'batch',
    parameterized: { payload: 'required', meta_required: ['who'] },
    groups: [
      {
        name: 'g',
        tasks: [
          {
            name: 'box',
            driver: 'docker',
            config: {
              image: engine.image,
              command: '/bin/sh',
              // Also writes into /local, which must be mounted read-write.
              args: ['-c', 'echo "who=$BERTH_META_who dir=$BERTH_TASK_DIR payload=$(cat $BERTH_PAYLOAD_FILE)"; echo rw > /local/out && cat /local/out'],
            },
            resources: { cpu: 0.05, memory: '16MiB' },
          },
        ],
      },
    ],
  };
  const specFile = path.join(dir, 'echoer.json');
  await writeFile(specFile, JSON.stringify(spec));
  const run = await cli('job', 'run', '--detach', specFile);
  assert.equal(run.code, 0, run.stderr);
  const payload = path.join(dir, 'payload.txt');
  await writeFile(payload, 'line-from-the-payload');
  const ok = await cli('job', 'dispatch', 'echoer', '--meta', 'who=bob', payload);
  assert.equal(ok.code, 0, ok.stderr);
  const childId = /Dispatched (\S+)/.exec(ok.stdout)![1];
  const alloc = await eventually('the child to be placed', async () => {
    const status = await cli('job', 'status', childId, '--json');
    return status.code === 0 && (JSON.parse(status.stdout) as { allocations: Allocation[] }).allocations[0];
  });
  made.allocId = alloc.id;
  const logs = await eventually(
    'the container to print the payload',
    async () => {
      const out = (await cli('alloc', 'logs', alloc.id, 'box')).stdout;
      return out.includes('rw') && out;
    },
    60_000,
  );
  assert.equal(logs, 'who=bob dir=/local payload=line-from-the-payload\nrw\n', `${logs}\n${dev.logs().slice(-2000)}`);
  await eventually('the run to complete', async () => /dispatch\s+complete/.test((await cli('job', 'runs', 'echoer')).stdout));
});
