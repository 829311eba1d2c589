/**
 * `berth agent --log-forward syslog://...` against Debian's rsyslog: a process task's stdout and
 * stderr arrive as RFC 5424 messages that rsyslog parses into the job (APP-NAME), the allocation
 * (PROCID), the task (MSGID), severity by stream and berth's structured data, from a run's first
 * line; a restarted task's next run is forwarded too, each line once.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Allocation } from '../../src/model/index.ts';
import { berth, eventually, freePort } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));
const hasRsyslog = RSYSLOGD !== undefined && spawnSync(RSYSLOGD, ['-v']).status === 0;

const JOB = `id: chatty
groups:
  - name: app
    tasks:
      - name: talker
        driver: process
        config:
          command: /bin/sh
          args: ["-c", "i=0; while [ $i -lt 20 ]; do echo out $i; echo err $i >&2; i=$((i+1)); done; exec sleep 3600"]
        resources: {cpu: 10m, memory: 8Mi}
        kill_timeout: 1s
`;

describe('berth agent --log-forward to rsyslog', { timeout: 120_000 }, () => {
  if (!hasRsyslog) {
    it('needs rsyslog', (t) => {
      if (process.env.CI === 'true') assert.fail('rsyslog is not installed (apt-get install rsyslog)');
      t.skip('rsyslog is not installed (apt-get install rsyslog)');
    });
    return;
  }
  let dir: string;
  let server: (BerthProcess & { addr: string }) | undefined;
  let agent: BerthProcess | undefined;
  let rsyslog: ChildProcess | undefined;
  let out = '';
  let agentPort = 0;
  /** What rsyslog wrote of the job's messages: one parsed line each. */
  const received = (): { app: string; proc: string; msgid: string; sev: string; sd: string; msg: string }[] =>
    (existsSync(out) ? readFileSync(out, 'utf8') : '')
      .split('\n')
      .filter((l) => l.startsWith('chatty '))
      .map((l) => {
        const m = /^(\S+) (\S+) (\S+) sev=(\S+) sd=(\[.*\]) msg=\uFEFF?(.*)$/.exec(l);
        assert.ok(m, `rsyslog line ${l}`);
        return { app: m[1]!, proc: m[2]!, msgid: m[3]!, sev: m[4]!, sd: m[5]!, msg: m[6]! };
      });

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-logfwd-'));
    out = path.join(dir, 'received.log');
    const port = await freePort();
    await writeFile(path.join(dir, 'rsyslog.conf'), `global(workDirectory="${dir}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="${port}")
template(name="berth" type="string" string="%APP-NAME% %PROCID% %MSGID% sev=%syslogseverity-text% sd=%STRUCTURED-DATA% msg=%msg%\\n")
*.* action(type="omfile" file="${out}" template="berth")
`);
    rsyslog = spawn(RSYSLOGD!, ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslog.pid')], { stdio: 'ignore' });
    server = await startServer(path.join(dir, 'server'));
    agentPort = await freePort();
    agent = await startAgent({ servers: [server.addr], dataDir: path.join(dir, 'agent'), nodeName: `logfwd-${process.pid}`, driver: 'process', args: ['--log-forward', `syslog://127.0.0.1:${port}`, '--http-addr', `127.0.0.1:${agentPort}`] });
  });
  after(async () => {
    if (server) await berth(['job', 'stop', 'chatty', '--purge', '--detach'], { addr: server.addr }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1500));
    await agent?.stop();
    await server?.stop();
    rsyslog?.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers each line of stdout and stderr as a syslog message naming the job, allocation and task', async () => {
    const file = path.join(dir, 'chatty.yaml');
    await writeFile(file, JOB);
    const run = await berth(['job', 'run', file], { addr: server!.addr, timeoutMs: 60_000 });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const [alloc] = (await (await fetch(`${server!.addr}/v1/jobs/chatty/allocations`)).json()) as Allocation[];

    const lines = await eventually('40 lines at rsyslog', async () => (received().length >= 40 ? received() : undefined), 20_000).catch((err: Error) =>
      assert.fail(`${err.message}: got ${received().length}\nagent: ${agent!.logs().slice(-2000)}`),
    );
    assert.equal(lines.length, 40);
    const stdout = lines.filter((l) => l.msg.startsWith('out '));
    const stderr = lines.filter((l) => l.msg.startsWith('err '));
    assert.deepEqual(stdout.map((l) => l.msg), Array.from({ length: 20 }, (_, i) => `out ${i}`), 'stdout in order, each line once');
    assert.deepEqual(stderr.map((l) => l.msg), Array.from({ length: 20 }, (_, i) => `err ${i}`));
    for (const l of lines) {
      assert.deepEqual([l.app, l.proc, l.msgid], ['chatty', alloc!.id, 'talker']);
      assert.match(l.sd, new RegExp(`^\\[berth@32473 job="chatty" group="app" alloc="${alloc!.id}" task="talker" stream="(stdout|stderr)"\\]$`));
    }
    assert.deepEqual([...new Set(stdout.map((l) => l.sev))], ['info']);
    assert.deepEqual([...new Set(stderr.map((l) => l.sev))], ['err']);

    // A restarted task is a new instance: its output is forwarded too.
    const restart = await berth(['alloc', 'restart', alloc!.id], { addr: server!.addr, timeoutMs: 30_000 });
    assert.equal(restart.code, 0, restart.stderr);
    await eventually('the new instance at rsyslog', async () => received().length >= 80, 20_000).catch((err: Error) => assert.fail(`${err.message}: got ${received().length}`));
    assert.equal(received().filter((l) => l.msg === 'out 0').length, 2);

    // The agent counts what it sent, and rsyslog has every one of them.
    const metric = async (name: string): Promise<number> => Number(new RegExp(`^${name} (\\d+)$`, 'm').exec(await (await fetch(`http://127.0.0.1:${agentPort}/v1/metrics`)).text())?.[1]);
    const forwarded = await eventually('the count to settle', async () => {
      const n = await metric('berth_agent_log_lines_forwarded_total');
      return n >= 80 && n === received().length ? n : undefined;
    }).catch(async (err: Error) => assert.fail(`${err.message}: forwarded ${await metric('berth_agent_log_lines_forwarded_total')}, received ${received().length}: ${JSON.stringify(received().map((l) => l.msg))}`));
    assert.ok(forwarded >= 80);
    assert.equal(await metric('berth_agent_log_lines_dropped_total'), 0);
  });
});
