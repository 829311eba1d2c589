/**
 * What a user of the CLI sees against one real `berth dev` (process driver, real SQLite): results
 * on stdout and progress on stderr, --json that parses, short IDs and names, ambiguous prefixes,
 * why a job cannot start or be placed, what operators do to one allocation, the real last heartbeat.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Allocation, Job, Node } from '../../src/model/index.ts';
import { BerthClient } from '../../src/api/index.ts';
import { berth, eventually, freePorts, startDev, type DevProcess } from '../harness/berth.ts';

/** A long-running process task; `script` is its shell. */
function spec(id: string, script: string, extra = ''): string {
  return `
id: ${id}
groups:
  - name: main
    count: 1
    restart: {attempts: 0, mode: fail}
    reschedule: {attempts: 0, unlimited: false}
    tasks:
      - name: sh
        driver: process
        config: {command: /bin/sh, args: ["-c", ${JSON.stringify(script)}]}
        resources: {cpu: 50m, memory: 16Mi}
        kill_timeout: 1s
${extra}`;
}

describe('the berth CLI against berth dev', { timeout: 180_000 }, () => {
  let dev: DevProcess;
  let dir: string;
  const run = (args: string[]) => berth(args, { addr: dev.addr, env: { NO_COLOR: '1' } });
  const file = async (name: string, text: string): Promise<string> => {
    const p = path.join(dir, name);
    await writeFile(p, text);
    return p;
  };
  const api = (): BerthClient => new BerthClient({ address: dev.addr });
  const allocsOf = async (job: string): Promise<Allocation[]> => (await (await fetch(`${dev.addr}/v1/jobs/${job}/allocations`)).json()) as Allocation[];

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-cli-ux-'));
    const [port, dnsPort] = await freePorts(2);
    dev = await startDev({ driver: 'process', port, args: ['--dns-addr', `127.0.0.1:${dnsPort}`] });
  });
  after(async () => {
    await dev?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs the spec job init writes: validated, registered, running; the result on stdout, progress on stderr', async () => {
    const init = await berth(['job', 'init', path.join(dir, 'example.yaml')]);
    assert.equal(init.code, 0, init.stderr);
    const valid = await berth(['job', 'validate', path.join(dir, 'example.yaml'), '--json']);
    assert.equal(valid.code, 0, valid.stdout);
    assert.equal((JSON.parse(valid.stdout) as { valid: boolean; job: Job }).job.id, 'example');
    const r = await run(['job', 'run', path.join(dir, 'example.yaml')]);
    assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(r.stdout, /^Job "example" registered: version 0, evaluation [0-9a-f]{8}\nJob "example" is running\. See `berth job status example`\n$/);
    assert.match(r.stderr, /example v0 \[\d+\.\ds\] app: 1 desired, 1 placed, 1 running/);
    assert.doesNotMatch(r.stdout, /desired/, 'no progress on stdout');
  });

  it('finds a job by a unique prefix, prints its stored spec as YAML or JSON, and lists the candidates of an ambiguous prefix', async () => {
    const status = await run(['job', 'status', 'exa']);
    assert.equal(status.code, 0, status.stderr);
    assert.match(status.stdout, /^ID\s+= example$/m);
    const yaml = await run(['job', 'inspect', 'exam']);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.match(yaml.stdout, /^id: example$/m);
    assert.match(yaml.stdout, /^ {6}- name: hello$/m);
    const json = JSON.parse((await run(['job', 'inspect', 'example', '--json'])).stdout) as Job;
    assert.equal(json.groups[0].tasks[0].config.command, '/bin/sh');

    // Set up through the API: each CLI start costs a second or more.
    for (const id of ['tick-a', 'tick-b']) await api().registerJob(spec(id, 'sleep 300'));
    const ambiguous = await run(['job', 'status', 'tick']);
    assert.equal(ambiguous.code, 1);
    assert.equal(ambiguous.stdout, '');
    assert.match(ambiguous.stderr, /^Error: Cannot find job "tick": the prefix matches 2 jobs; give more characters of one of:\n {2}tick-a\n {2}tick-b\n$/);
    const none = await run(['job', 'stop', 'nope']);
    assert.equal(none.code, 1);
    assert.match(none.stderr, /^Error: Cannot find job "nope": no such job \(see `berth job status`\)/);
    const stop = await run(['job', 'stop', 'tick-b', '--purge']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, /^Job "tick-b" stopped and purged, evaluation [0-9a-f]{8}\n$/);
  });

  it('shows a node by the short ID node status prints, or by its name', async () => {
    const list = await run(['node', 'status']);
    assert.equal(list.code, 0, list.stderr);
    const short = /^([0-9a-f]{8})\s+dev\s/m.exec(list.stdout)?.[1];
    assert.ok(short, list.stdout);
    for (const ref of [short, 'dev']) {
      const one = await run(['node', 'status', ref]);
      assert.equal(one.code, 0, `${ref}: ${one.stderr}`);
      assert.match(one.stdout, new RegExp(`^ID\\s+= ${short}[0-9a-f-]+$`, 'm'));
      assert.match(one.stdout, /^Name\s+= dev$/m);
    }
    const json = JSON.parse((await run(['node', 'status', short, '--json'])).stdout) as { node: Node };
    assert.equal(json.node.name, 'dev');
    const unknown = await run(['node', 'status', 'zzzz']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /Cannot find node "zzzz": no such node/);
  });

  it('says why tasks cannot start: the driver failure and where to see more', async () => {
    const bad = await file('bad.yaml', spec('bad', 'true').replace('command: /bin/sh', 'command: /no/such/binary'));
    const r = await run(['job', 'run', bad]);
    assert.equal(r.code, 1, r.stdout);
    const short = /Allocation ([0-9a-f]{8}) \(bad\.main\[0\]\) failed/.exec(r.stderr)?.[1];
    assert.ok(short, r.stderr);
    assert.match(r.stderr, /^ {2}task "sh": Driver Failure: .*command "\/no\/such\/binary" not found/m);
    assert.match(r.stderr, new RegExp(`^See more: berth alloc status ${short}$`, 'm'));
    assert.equal((await run(['job', 'stop', 'bad', '--purge', '--detach'])).code, 0);
  });

  it('says what an unplaceable group asks against the most free, that the job waits registered, and how to stop it', async () => {
    const big = await file('big.yaml', spec('big', 'sleep 300').replace('memory: 16Mi', 'memory: 100000Gi'));
    const r = await run(['job', 'run', big]);
    assert.equal(r.code, 1, r.stdout);
    assert.match(r.stderr, /^Error: Cannot place job "big": cannot place 1 allocation of group "main": 1 node evaluated; memory exhausted on 1 node$/m);
    assert.match(r.stderr, /^ {2}asks 100000 GiB memory; the most free on any node is \d+(\.\d)? [GM]iB \(node dev\)$/m);
    assert.match(r.stderr, /^The job stays registered \(pending\): its allocations are placed when capacity appears/m);
    assert.match(r.stderr, /^To remove it: berth job stop big$/m);
    assert.equal((await api().jobSummary('big')).value.status, 'pending');
    const shown = await run(['job', 'status', 'big']);
    assert.match(shown.stdout, /Placement failures\ncannot place 1 allocation .*\n {2}asks 100000 GiB memory/);
    assert.equal((await run(['job', 'stop', 'big', '--purge', '--detach'])).code, 0);
  });

  it('signals, restarts in place and stops one allocation by its short ID', async () => {
    await api().registerJob(spec('trap', "trap 'echo got-hup' HUP; echo started; while true; do sleep 0.2; done"));
    const first = await eventually('the task running', async () => (await allocsOf('trap')).find((a) => a.clientStatus === 'running'));
    const short = first.id.slice(0, 8);
    const logs = async (): Promise<string> => (await fetch(`${dev.addr}/v1/allocations/${first.id}/logs?task=sh`)).text();
    await eventually('the trap to be set', async () => (await logs()).includes('started'));

    const signal = await run(['alloc', 'signal', short, '-s', 'hup', '--json']);
    assert.equal(signal.code, 0, signal.stderr);
    assert.deepEqual(JSON.parse(signal.stdout), { allocId: first.id, tasks: ['sh'], signal: 'SIGHUP' });
    await eventually('the task to print got-hup', async () => (await logs()).includes('got-hup'));

    const restart = await run(['alloc', 'restart', short]);
    assert.equal(restart.code, 0, restart.stderr);
    assert.equal(restart.stdout, `Allocation ${short}: restarted "sh"\n`);
    await eventually('the task running again, restarted once, in the same allocation', async () => {
      const a = (await allocsOf('trap')).find((x) => x.id === first.id);
      const t = a?.taskStates.sh;
      return t?.state === 'running' && t.restarts === 1 && t.events.some((e) => e.type === 'Restarting' && /berth alloc restart/.test(e.message));
    });
    const nope = await run(['alloc', 'restart', short, 'other']);
    assert.equal(nope.code, 1);
    assert.match(nope.stderr, /Cannot restart task "other" of allocation .*: it has no such task \(tasks: sh\)/);

    const stop = await run(['alloc', 'stop', short]);
    assert.equal(stop.code, 0, stop.stderr);
    assert.match(stop.stdout, new RegExp(`^Allocation ${short} stopping; a replacement will be placed`));
    await eventually('a replacement running in place of the stopped allocation', async () => {
      const all = await allocsOf('trap');
      return all.some((a) => a.previousAllocation === first.id && a.clientStatus === 'running') && all.some((a) => a.id === first.id && a.clientStatus !== 'running');
    }, 30_000);
    const again = await run(['alloc', 'stop', short]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /it is stopped already/);
    assert.equal((await run(['job', 'stop', 'trap', '--purge'])).code, 0);
  });

  it('shows the last heartbeat, which moves on while the node lives', async () => {
    const seen = async (): Promise<number> => ((await api().listNodes()).value[0] as Node).lastHeartbeat;
    const first = await seen();
    const later = await eventually('a newer heartbeat', async () => {
      const t = await seen();
      return t > first ? t : undefined;
    }, 30_000);
    assert.ok(Date.now() - later < 20_000, `the heartbeat at ${later} is recent`);
    const text = (await run(['node', 'status', 'dev'])).stdout;
    assert.match(text, /^Last heartbeat\s+= \S+Z \(\d+s ago\)$/m);
  });
});
