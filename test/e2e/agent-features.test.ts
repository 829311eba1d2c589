import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Allocation, NodeStats } from '../../src/model/index.ts';
import { berth, eventually, startDev, type DevProcess } from '../harness/berth.ts';
import { dockerTestEngine } from '../harness/dockerd.ts';
import { connectDocker } from '../../src/drivers/index.ts';

const bin = path.resolve(import.meta.dirname, '../../bin/berth.js');
const engine = dockerTestEngine();

/**
 * What a user does with a running allocation of a docker task and a process task side by side:
 * read its logs (tail, stderr, follow), see its usage, run commands inside each task.
 */
describe('logs, stats and exec of running tasks', { timeout: 180_000 }, () => {
  let dev: DevProcess;
  let alloc: Allocation;

  before(async () => {
    if (!engine) {
      if (process.env.CI === 'true') assert.fail('no Docker engine: set BERTH_TEST_DOCKER_HOST');
      return;
    }
    dev = await startDev({ driver: 'docker', dockerHost: engine.host });
    const file = path.join(dev.dataDir, 'feat.yaml');
    const ticker = 'echo to-stderr >&2; i=0; while :; do i=$((i+1)); echo "tick $i"; sleep 0.2; done';
    await writeFile(
      file,
      `id: feat
groups:
  - name: g
    tasks:
      - name: box
        driver: docker
        config: {image: "${engine.image}", command: /bin/sh, args: ["-c", ${JSON.stringify(ticker)}]}
        env: {GREETING: hello-box}
        resources: {cpu: 50m, memory: 32Mi}
        kill_timeout: 1s
      - name: proc
        driver: process
        config: {command: /bin/sh, args: ["-c", "while :; do sleep 1; done"]}
        env: {GREETING: hello-proc}
        resources: {cpu: 50m, memory: 32Mi}
        kill_timeout: 1s
`,
    );
    const run = await berth(['job', 'run', file], { addr: dev.addr, timeoutMs: 60_000 });
    assert.equal(run.code, 0, `${run.stderr}\n${dev.logs().slice(-2000)}`);
    const status = await berth(['job', 'status', 'feat', '--json'], { addr: dev.addr });
    alloc = (JSON.parse(status.stdout) as { allocations: Allocation[] }).allocations[0];
  });
  after(async () => {
    if (!dev) return;
    await berth(['job', 'stop', 'feat', '--purge'], { addr: dev.addr, timeoutMs: 30_000 }).catch(() => undefined);
    // The agent removes the container after the stop returns: wait for it before killing berth dev.
    const docker = connectDocker(engine!.host);
    const left = async (): Promise<number> => (await docker.listContainers({ all: true, filters: JSON.stringify({ label: [`berth.alloc=${alloc?.id}`] }) })).length;
    await eventually('the container to be removed', async () => (await left()) === 0, 20_000).catch(() => undefined);
    await dev.cleanup();
  });

  const needsDocker = { skip: engine ? false : 'no Docker engine (set BERTH_TEST_DOCKER_HOST)' };

  it('alloc logs --tail N prints the last N lines, --stderr the other stream, -f follows', needsDocker, async () => {
    await eventually('a few ticks', async () => (await berth(['alloc', 'logs', alloc.id, 'box'], { addr: dev.addr })).stdout.includes('tick 5'));
    const tail = await berth(['alloc', 'logs', alloc.id, 'box', '--tail', '2'], { addr: dev.addr });
    assert.equal(tail.code, 0, tail.stderr);
    const lines = tail.stdout.trim().split('\n');
    assert.equal(lines.length, 2);
    assert.match(lines[1], /^tick \d+$/);
    const stderr = await berth(['alloc', 'logs', alloc.id, 'box', '--stderr'], { addr: dev.addr });
    assert.equal(stderr.stdout, 'to-stderr\n');
    // -f: new ticks keep arriving after the command started.
    const follow = spawn(process.execPath, [bin, 'alloc', 'logs', alloc.id, 'box', '-f', '--tail', '1'], { env: { ...process.env, BERTH_ADDR: dev.addr } });
    let out = '';
    follow.stdout.on('data', (d: Buffer) => (out += d));
    try {
      await eventually('followed output to grow by 3 lines', async () => out.trim().split('\n').length >= 4, 10_000);
    } finally {
      follow.kill('SIGINT');
    }
  });

  it('alloc status shows the cpu and memory of each task, and the node totals add them up', needsDocker, async () => {
    const res = await berth(['alloc', 'status', alloc.id], { addr: dev.addr });
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /Task "box": running.*\| cpu \d+\.\d%, memory \d+\.\d MiB of 32\.0 MiB/);
    assert.match(res.stdout, /Task "proc": running.*\| cpu \d+\.\d%, memory \d+\.\d MiB/);
    const node = (await (await fetch(`${dev.addr}/v1/nodes/${alloc.nodeId}/stats`)).json()) as NodeStats;
    assert.equal(node.tasks, 2);
    assert.ok(node.memoryBytes > 0 && node.memoryTotalBytes > node.memoryBytes);
    const missing = await fetch(`${dev.addr}/v1/allocations/no-such-alloc/stats`);
    assert.equal(missing.status, 404);
  });

  it('alloc exec runs a command in the container and in the process task, with their env and exit code', needsDocker, async () => {
    const box = await berth(['alloc', 'exec', alloc.id.slice(0, 8), 'box', '--', 'sh', '-c', 'echo $GREETING; echo oops >&2; exit 3'], { addr: dev.addr });
    assert.deepEqual([box.code, box.stdout, box.stderr], [3, 'hello-box\n', 'oops\n']);
    const proc = await berth(['alloc', 'exec', alloc.id, 'proc', '--', 'sh', '-c', 'echo $GREETING; pwd'], { addr: dev.addr });
    assert.equal(proc.code, 0, proc.stderr);
    const [greeting, cwd] = proc.stdout.trim().split('\n');
    assert.equal(greeting, 'hello-proc');
    assert.ok(cwd.endsWith(path.join(alloc.id, 'proc')), `runs in the task dir, not ${cwd}`);
    const input = await berthWithInput(['alloc', 'exec', alloc.id, 'box', '--', 'cat'], 'piped in\n', dev.addr);
    assert.equal(input.stdout, 'piped in\n');
  });

  it('alloc exec -t gives the command a terminal in both drivers', needsDocker, async () => {
    for (const task of ['box', 'proc']) {
      const res = await berthWithInput(['alloc', 'exec', '-t', alloc.id, task, '--', 'tty'], '', dev.addr);
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout.trim(), /^\/dev\/pts\/\d+$/, `${task}: ${res.stdout}`);
    }
  });
});

describe('lifecycle hooks and max_run_duration on the process driver', { timeout: 120_000 }, () => {
  let dev: DevProcess;
  const mark = `/tmp/berth-hooks-${process.pid}`;

  before(async () => {
    dev = await startDev({ driver: 'process' });
  });
  after(async () => {
    await dev?.cleanup();
    await rm(mark, { force: true });
  });

  it('runs prestart before the main task and poststop after it stops', async () => {
    const file = path.join(dev.dataDir, 'hooks.yaml');
    await writeFile(
      file,
      `id: hooks
groups:
  - name: g
    tasks:
      - name: migrate
        lifecycle: {hook: prestart}
        config: {command: /bin/sh, args: ["-c", "sleep 0.3; echo migrated > ${mark}"]}
      - name: web
        config: {command: /bin/sh, args: ["-c", "cat ${mark}; while :; do sleep 1; done"]}
        kill_timeout: 1s
      - name: cleanup
        lifecycle: {hook: poststop}
        config: {command: /bin/sh, args: ["-c", "echo cleaned >> ${mark}"]}
`,
    );
    const run = await berth(['job', 'run', file], { addr: dev.addr, timeoutMs: 60_000 });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const status = await berth(['job', 'status', 'hooks', '--json'], { addr: dev.addr });
    const alloc = (JSON.parse(status.stdout) as { allocations: Allocation[] }).allocations[0];
    const logs = await eventually('the main task output', async () => (await berth(['alloc', 'logs', alloc.id, 'web'], { addr: dev.addr })).stdout || undefined);
    assert.equal(logs, 'migrated\n', 'the main task saw what prestart wrote');
    const stop = await berth(['job', 'stop', 'hooks'], { addr: dev.addr, timeoutMs: 30_000 });
    assert.equal(stop.code, 0, stop.stderr);
    await eventually('poststop to have run', async () => (await readFile(mark, 'utf8')) === 'migrated\ncleaned\n');
  });

  it('fails a batch task that runs past its max_run_duration', async () => {
    const file = path.join(dev.dataDir, 'slow.yaml');
    await writeFile(file, `id: slow\ntype: batch\ngroups:\n  - name: g\n    tasks:\n      - name: t\n        max_run_duration: 1s\n        config: {command: /bin/sh, args: ["-c", "sleep 30"]}\n        kill_timeout: 1s\n`);
    await berth(['job', 'run', file, '--detach'], { addr: dev.addr });
    const alloc = await eventually('the allocation to fail', async () => {
      const res = await berth(['job', 'status', 'slow', '--json'], { addr: dev.addr });
      return (JSON.parse(res.stdout) as { allocations: Allocation[] }).allocations.find((a) => a.clientStatus === 'failed');
    }, 20_000);
    assert.match(alloc.taskStates.t.events.map((e) => e.message).join('\n'), /exceeded max_run_duration \(1s\)/);
    assert.equal(alloc.taskStates.t.restarts, 0);
  });
});

/** Runs the CLI with `input` on its stdin. */
function berthWithInput(args: string[], input: string, addr: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, BERTH_ADDR: addr } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('exit', (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(input);
  });
}
