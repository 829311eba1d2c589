/**
 * `berth logs JOB` through the real CLI on `berth dev` with the process driver: every allocation's
 * stdout and stderr under its prefix, whole lines only; with -f, lines written later, a task's
 * next run after `berth alloc restart` and an allocation added by `berth job scale` join the
 * stream; -a shows a finished batch allocation.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Allocation } from '../../src/model/index.ts';
import { berth, eventually, startDev } from '../harness/berth.ts';

const root = path.resolve(import.meta.dirname, '../..');
const LONG = 20_000;

test('berth logs interleaves every allocation under its prefix, follows new lines and new allocations, and shows finished ones with -a', async (t) => {
  const dev = await startDev({ driver: 'process' });
  const dir = await mkdtemp(path.join(tmpdir(), 'berth-logs-'));
  t.after(async () => {
    await berth(['job', 'stop', '--purge', 'chatty'], { addr: dev.addr }).catch(() => undefined);
    await dev.cleanup();
    await rm(dir, { recursive: true, force: true });
  });
  const cli = (...args: string[]): ReturnType<typeof berth> => berth(args, { addr: dev.addr });
  // Each allocation greets on stdout, complains on stderr, prints one long line of its own digit
  // (a line split or mixed with another would show), then prints "later N" whenever $dir/go-N appears.
  const script = [
    'I=$BERTH_ALLOC_INDEX',
    'echo "hello from $I"',
    'echo "oops $I" >&2',
    `head -c ${LONG} /dev/zero | tr '\\0' "$I"; echo`,
    `while :; do if [ -e ${dir}/go-$I ]; then rm -f ${dir}/go-$I; echo "later $I"; fi; sleep 0.1; done`,
  ].join('\n');
  const spec = {
    id: 'chatty',
    groups: [{ name: 'web', count: 2, tasks: [{ name: 'talk', driver: 'process', config: { command: '/bin/sh', args: ['-c', script] }, resources: { cpu: 0.1, memory: '32MiB' } }] }],
  };
  const specFile = path.join(dir, 'chatty.json');
  await writeFile(specFile, JSON.stringify(spec));
  assert.equal((await cli('job', 'run', '--detach', specFile)).code, 0);
  const running = async (n: number): Promise<Allocation[]> =>
    eventually(`${n} running allocations`, async () => {
      const allocs = (await (await fetch(`${dev.addr}/v1/jobs/chatty/allocations`)).json()) as Allocation[];
      const live = allocs.filter((a) => a.clientStatus === 'running');
      return live.length === n && live.sort((a, b) => a.index - b.index);
    });
  const allocs = await running(2);
  const label = (a: Allocation): string => `web\\.${a.index}\\[${a.id.slice(0, 4)}\\]`;
  // Output is written as the task runs: wait until both have printed their long line.
  const shown = await eventually('both allocations to have printed', async () => {
    const r = await cli('logs', 'chatty');
    return r.code === 0 && allocs.every((a) => r.stdout.includes(String(a.index).repeat(LONG))) && r;
  });

  for (const a of allocs) {
    assert.match(shown.stdout, new RegExp(`^${label(a)} +\\| hello from ${a.index}$`, 'm'));
    assert.match(shown.stdout, new RegExp(`^${label(a)} \\(stderr\\) +\\| oops ${a.index}$`, 'm'));
    assert.match(shown.stdout, new RegExp(`^${label(a)} +\\| ${String(a.index).repeat(LONG)}$`, 'm'), 'the long line whole, under its own prefix');
  }
  assert.equal(shown.stdout.split('\n').filter(Boolean).length, 6, 'three lines from each of the two allocations, nothing else');

  const json = await cli('logs', 'chatty', '--json', '--group', 'web', '--task', 'talk');
  assert.equal(json.code, 0, json.stderr);
  const records = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  assert.deepEqual(records.find((r) => r.line === 'oops 1'), { alloc: allocs[1].id, group: 'web', task: 'talk', stream: 'stderr', line: 'oops 1' });

  const bare = await cli('logs', 'chatty', '--no-prefix', '--tail', '1');
  assert.deepEqual(bare.stdout.split('\n').filter(Boolean).sort(), ['0'.repeat(LONG), '1'.repeat(LONG), 'oops 0', 'oops 1']);

  const noGroup = await cli('logs', 'chatty', '--group', 'db');
  assert.equal(noGroup.code, 1);
  assert.match(noGroup.stderr, /Cannot show logs of job "chatty": it has no group "db"; its groups: web/);
  const misuse = await cli('logs');
  assert.equal(misuse.code, 2);
  assert.match(misuse.stderr, /Usage: berth logs \[options\] <job>/);

  // -f: a line written later, then an allocation added by a scale-up, join the stream.
  const follow = spawn(process.execPath, [path.join(root, 'bin/berth.js'), 'logs', 'chatty', '-f'], { cwd: root, env: { ...process.env, BERTH_ADDR: dev.addr }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  follow.stdout.on('data', (d: Buffer) => (out += d));
  follow.stderr.on('data', (d: Buffer) => (err += d));
  const exited = new Promise<number | null>((resolve) => follow.on('exit', (code) => resolve(code)));
  t.after(() => follow.kill('SIGKILL'));
  await eventually('the followed logs to show what is there', async () => allocs.every((a) => out.includes(`hello from ${a.index}`)));
  await writeFile(path.join(dir, 'go-0'), '');
  await eventually('the line written later', async () => new RegExp(`^${label(allocs[0])} +\\| later 0$`, 'm').test(out));
  // Restarted in place: the stream goes on into the task's next run, with that run's lines only.
  // (A second apart from the lines before, which --since tells apart to the second.)
  await new Promise((r) => setTimeout(r, 1200));
  const restartedAt = new Date().toISOString();
  assert.equal((await cli('alloc', 'restart', allocs[0].id)).code, 0);
  const hello0 = new RegExp(`^${label(allocs[0])} +\\| hello from 0$`, 'gm');
  // --since: only what was written since then, the restarted run's lines.
  const since = await eventually('the restarted run in logs --since', async () => {
    const r = await cli('logs', 'chatty', '--since', restartedAt);
    return r.code === 0 && /hello from 0/.test(r.stdout) && r;
  });
  assert.doesNotMatch(since.stdout, /later 0|hello from 1|oops 1/, since.stdout.split('\n').map((l) => l.slice(0, 60)).join('\n'));
  const misread = await cli('logs', 'chatty', '--since', 'yesterday');
  assert.equal(misread.code, 2);
  assert.match(misread.stderr, /expected a duration back from now \(10m, 1h30m\) or a time/);
  await eventually('the restarted run to be followed', async () => (out.match(hello0) ?? []).length === 2, 30_000).catch((e: Error) => assert.fail(`${e.message}\n${out.split('\n').filter((l) => !l.includes('000000')).join('\n')}\n${err}`));

  assert.equal((await cli('job', 'scale', 'chatty', '3')).code, 0);
  const third = (await running(3))[2];
  await eventually('the new allocation to join', async () => new RegExp(`^${label(third)} +\\| hello from 2$`, 'm').test(out), 30_000);
  await writeFile(path.join(dir, 'go-2'), '');
  await eventually('its later line', async () => new RegExp(`^${label(third)} +\\| later 2$`, 'm').test(out));

  follow.kill('SIGINT');
  assert.equal(await exited, 0, err);
  assert.equal((out.match(hello0) ?? []).length, 2, 'the restarted run was shown once, and the first run not again');
  assert.equal(err, '');
  const lines = out.split('\n').filter(Boolean);
  assert.ok(lines.every((l) => /^web\.\d\[[0-9a-f]{4}\]( \(stderr\))? +\| /.test(l)), `every line has its prefix:\n${out.slice(0, 2000)}`);

  // Stopped: nothing running to show, said on stderr; -a reads the stopped allocations.
  assert.equal((await cli('job', 'stop', 'chatty')).code, 0);
  await eventually('every allocation to stop', async () => {
    const all = (await (await fetch(`${dev.addr}/v1/jobs/chatty/allocations`)).json()) as Allocation[];
    return all.every((a) => a.clientStatus !== 'running' && a.clientStatus !== 'pending');
  });
  const none = await cli('logs', 'chatty');
  assert.deepEqual([none.code, none.stdout], [0, '']);
  assert.match(none.stderr, /Job "chatty" has no running allocation with a started task; -a shows stopped ones too/);

  // A finished batch allocation stays on its agent: -a shows it, plain `logs` does not.
  const onceFile = path.join(dir, 'once.json');
  const once = { id: 'once', type: 'batch', groups: [{ name: 'run', tasks: [{ name: 'say', driver: 'process', config: { command: '/bin/sh', args: ['-c', 'echo done'] }, resources: { cpu: 0.1, memory: '32MiB' } }] }] };
  await writeFile(onceFile, JSON.stringify(once));
  assert.equal((await cli('job', 'run', '--detach', onceFile)).code, 0);
  const [done] = await eventually('the batch run to complete', async () => {
    const all = (await (await fetch(`${dev.addr}/v1/jobs/once/allocations`)).json()) as Allocation[];
    return all.length === 1 && all[0].clientStatus === 'complete' && all;
  });
  assert.match((await cli('logs', 'once')).stderr, /Job "once" has no running allocation/);
  const finished = await cli('logs', 'once', '-a');
  assert.deepEqual([finished.code, finished.stderr], [0, '']);
  assert.equal(finished.stdout, `run.0[${done.id.slice(0, 4)}]          | done\n`);
});
