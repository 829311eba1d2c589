/**
 * Dependencies between jobs on real berth processes (one server, two agents, the process driver):
 * a service waits for another to pass its check; a job held behind a failed batch job goes on after
 * `job mark-success`; an evaluation that places nothing names each node it ruled out and why.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Allocation, Evaluation } from '../../src/model/index.ts';
import { berth, eventually, type CliResult } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';
import { firstEvent, killTasksUnder } from '../harness/observe.ts';

let dir = '';
let server: BerthProcess & { addr: string };
const agents: BerthProcess[] = [];

before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'berth-deps-'));
  server = await startServer(path.join(dir, 'server'));
  for (const name of ['dep-a', 'dep-b']) agents.push(await startAgent({ servers: [server.addr], dataDir: path.join(dir, name), nodeName: name, driver: 'process' }));
  await eventually('both nodes ready', async () => {
    const nodes = (await (await fetch(`${server.addr}/v1/nodes`)).json()) as { status: string }[];
    return nodes.filter((n) => n.status === 'ready').length === 2;
  });
});

after(async () => {
  await Promise.all(agents.map((a) => a.stop()));
  await server?.stop();
  killTasksUnder(dir);
  await rm(dir, { recursive: true, force: true });
});

const cli = (...args: string[]): Promise<CliResult> => berth(args, { addr: server.addr });

/** Register a spec through the CLI (detached), from a JSON file. */
async function run(spec: Record<string, unknown>): Promise<CliResult> {
  const file = path.join(dir, `${String(spec.id)}.json`);
  await writeFile(file, JSON.stringify(spec));
  const res = await cli('job', 'run', '--detach', file);
  assert.equal(res.code, 0, res.stderr);
  return res;
}

async function running(jobId: string): Promise<Allocation[]> {
  const allocs = (await (await fetch(`${server.addr}/v1/jobs/${jobId}/allocations`)).json()) as Allocation[];
  return allocs.filter((a) => a.desiredStatus === 'run' && a.clientStatus === 'running');
}

/** A job of one shell task; `group` adds to the group (services, restart, reschedule). */
function shJob(id: string, type: string, script: string, extra: Record<string, unknown> = {}, group: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    id,
    type,
    ...extra,
    groups: [{ name: 'g', ...group, tasks: [{ name: 't', driver: 'process', config: { command: '/bin/sh', args: ['-c', script] }, resources: { cpu: 0.05, memory: '16MiB' } }] }],
  };
}

test('a service that waits for another to be healthy is held until its check passes, then placed', async () => {
  const ready = path.join(dir, 'db-ready');
  // db's check passes once the file exists: the test decides when db turns healthy.
  const check = { type: 'script', command: '/bin/sh', args: ['-c', `test -f ${ready} || exit 2`], interval: '200ms', timeout: '2s' };
  await run(shJob('db', 'service', 'sleep 600', {}, { services: [{ name: 'db', checks: [check] }] }));
  const api = await run(shJob('api', 'service', 'sleep 600', { after: [{ job: 'db', condition: 'healthy' }] }));
  assert.equal(api.stderr, '', 'db exists: no warning');
  await eventually('db to run', async () => (await running('db')).length === 1);

  const status = await eventually('api held with the reason', async () => {
    const s = await cli('job', 'status', 'api');
    return /Held: not placed until its dependencies are met/.test(s.stdout) && s.stdout;
  });
  assert.match(status, /db healthy: not met: 0 of 1 allocations healthy \(db\.g\[0\]: service db checks critical/);
  assert.match(status, /waiting for job "db" to be healthy/);
  assert.equal((await running('api')).length, 0);

  await writeFile(ready, '');
  const [placed] = await eventually('api placed once db passes its check', async () => {
    const r = await running('api');
    return r.length === 1 && r;
  });
  const dbStart = (await running('db'))[0].taskStates.t.startedAt!;
  assert.ok(placed.taskStates.t.startedAt! > dbStart, 'api started after db');
  const done = await cli('job', 'status', 'api');
  assert.match(done.stdout, /db healthy: met/);
  assert.doesNotMatch(done.stdout, /Held:/);

  const tree = await cli('job', 'deps', 'api');
  assert.equal(tree.code, 0, tree.stderr);
  assert.match(tree.stdout, /^db {2}\[service: 1 running\]\n└─ api \(healthy\) {2}\[service: 1 running\]$/m);
});

test('a job held behind a failed batch job is placed after mark-success, which the job events record', async () => {
  const failing = { restart: { attempts: 0, mode: 'fail' }, reschedule: { attempts: 0 } };
  await run(shJob('migrate', 'batch', 'exit 3', {}, failing));
  const web = await run(shJob('web', 'service', 'sleep 600', { after: [{ job: 'migrate', condition: 'completed' }, { job: 'seed' }] }));
  // A dependency on a job that does not exist is accepted, with a warning naming it.
  assert.match(web.stderr, /Warning: .*web\.json: after\[1\]\.job: job "seed" does not exist yet/);
  await run(shJob('seed', 'service', 'sleep 600'));

  const held = await eventually('web held by the failed migrate', async () => {
    const s = await cli('job', 'status', 'web');
    return /migrate completed: not met: job "migrate" failed/.test(s.stdout) && s.stdout;
  });
  assert.match(held, /mark the run successful with `berth job mark-success migrate`/);
  assert.equal((await running('web')).length, 0);

  const marked = await cli('job', 'mark-success', 'migrate');
  assert.equal(marked.code, 0, marked.stderr);
  assert.match(marked.stdout, /^Marked 1 failed allocation of job "migrate" successful \(by anonymous \(ACLs off\)\)/);
  await eventually('web placed after mark-success', async () => (await running('web')).length === 1);

  const events = await fetch(`${server.addr}/v1/event/stream?topic=Job:migrate&index=1`);
  const event = await firstEvent(events, (e) => e.Type === 'JobMarkedSuccess', 15_000);
  assert.equal((event.Payload.MarkedSuccess as { By: string }).By, 'anonymous (ACLs off)');
  const again = await cli('job', 'mark-success', 'migrate');
  assert.equal(again.code, 1);
  assert.match(again.stderr, /Cannot mark a run of job "migrate" successful: it has not failed/);
});

test('an evaluation that fits nowhere names each node it ruled out and the reason', async () => {
  // Resources are per task: ask far more memory than either node has.
  const spec = shJob('huge', 'service', 'sleep 600');
  ((spec.groups as { tasks: { resources: Record<string, unknown> }[] }[])[0].tasks[0].resources as Record<string, unknown>).memory = '1TiB';
  await run(spec);
  const evaluation = await eventually('the evaluation with failures', async () => {
    const evals = (await (await fetch(`${server.addr}/v1/jobs/huge/evaluations`)).json()) as Evaluation[];
    return evals.find((e) => e.failures.length > 0 && e.status === 'complete');
  });
  assert.deepEqual(evaluation.failures[0].nodes?.map((n) => [n.nodeName, n.reason]).sort(), [
    ['dep-a', 'memory exhausted'],
    ['dep-b', 'memory exhausted'],
  ]);
  const shown = await cli('eval', 'status', evaluation.id);
  assert.match(shown.stdout, /Node\s+ID\s+Ruled out by/);
  assert.match(shown.stdout, /dep-a\s+\S{8}\s+memory exhausted/);
  assert.match(shown.stdout, /dep-b\s+\S{8}\s+memory exhausted/);
  const status = await cli('job', 'status', 'huge');
  assert.match(status.stdout, /node dep-a \(\S{8}\): memory exhausted/);
  assert.match(status.stdout, /node dep-b \(\S{8}\): memory exhausted/);
});

