/**
 * `berth agent --log-forward` to five targets at once, against real receivers: Debian's rsyslog
 * over UDP (syslog://) and TCP (syslog+tcp://, octet-counted) gets a process task's stdout and
 * stderr as RFC 5424 messages that it parses into the node (HOSTNAME), the job (APP-NAME), the
 * allocation (PROCID), the task (MSGID), severity by stream and berth's structured data, from a
 * run's first line; a restarted task's next run is forwarded too, each line once. An HTTP
 * receiver behind basic auth (the credentials in the target's URL) gets JSON lines. A receiver
 * that never answers and one that is down cost a task nothing: it runs and exits on time with
 * its own output whole, and what they could not take is dropped and counted in the agent's
 * metrics, the targets named there without their password.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Allocation } from '../../src/model/index.ts';
import { berth, eventually, freePort, freePorts } from '../harness/berth.ts';
import { startAgent, startServer, type BerthProcess } from '../harness/cluster.ts';

const RSYSLOGD = ['/usr/sbin/rsyslogd', '/sbin/rsyslogd'].find((p) => existsSync(p));
const hasRsyslog = RSYSLOGD !== undefined && spawnSync(RSYSLOGD, ['-v']).status === 0;

/** Lines each target holds (`--log-forward-buffer`): the stuck and the down target keep this many and drop the rest. */
const BUFFER = 100;
/** The batch job's lines. */
const LINES = 200;

/** An HTTP receiver that keeps the JSON lines POSTed to /ingest with berth:s3cret's basic auth, and never answers /stuck. */
async function startReceiver(port: number): Promise<{ records: Record<string, string>[]; stuck: () => number; close: () => void }> {
  const records: Record<string, string>[] = [];
  let stuck = 0;
  const server = http.createServer((req, res) => {
    if (req.url === '/stuck') return void stuck++;
    if (req.headers.authorization !== `Basic ${Buffer.from('berth:s3cret').toString('base64')}`) return void res.writeHead(401).end();
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', () => {
      for (const line of body.split('\n').filter(Boolean)) records.push(JSON.parse(line) as Record<string, string>);
      res.end();
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { records, stuck: () => stuck, close: () => (server.closeAllConnections(), server.close()) };
}

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
  let receiver: Awaited<ReturnType<typeof startReceiver>> | undefined;
  let udpLog = '';
  let tcpLog = '';
  let agentPort = 0;
  const nodeName = `logfwd-${process.pid}`;
  let targets: string[] = [];
  /** What rsyslog wrote of a job's messages to one of its files: one parsed line each. */
  const received = (file: string, job = 'chatty'): { host: string; app: string; proc: string; msgid: string; sev: string; sd: string; msg: string }[] =>
    (existsSync(file) ? readFileSync(file, 'utf8') : '')
      .split('\n')
      .filter(Boolean)
      .map((l) => {
        const m = /^(\S+) (\S+) (\S+) (\S+) sev=(\S+) sd=(\[.*\]) msg=\uFEFF?(.*)$/.exec(l);
        assert.ok(m, `rsyslog line ${l}`);
        return { host: m[1]!, app: m[2]!, proc: m[3]!, msgid: m[4]!, sev: m[5]!, sd: m[6]!, msg: m[7]! };
      })
      .filter((l) => l.app === job);
  /** A series of the agent's metrics for one target. */
  const metric = async (name: string, target: string): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${agentPort}/v1/metrics`)).text();
    return Number(new RegExp(`^${name}\\{target="${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  };

  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'berth-logfwd-'));
    udpLog = path.join(dir, 'udp.log');
    tcpLog = path.join(dir, 'tcp.log');
    const [udp, tcp, httpPort, down] = await freePorts(4);
    await writeFile(path.join(dir, 'rsyslog.conf'), `global(workDirectory="${dir}")
module(load="imudp")
module(load="imtcp")
template(name="berth" type="string" string="%HOSTNAME% %APP-NAME% %PROCID% %MSGID% sev=%syslogseverity-text% sd=%STRUCTURED-DATA% msg=%msg%\\n")
ruleset(name="udp") { action(type="omfile" file="${udpLog}" template="berth") }
ruleset(name="tcp") { action(type="omfile" file="${tcpLog}" template="berth") }
input(type="imudp" address="127.0.0.1" port="${udp}" ruleset="udp")
input(type="imtcp" address="127.0.0.1" port="${tcp}" ruleset="tcp")
`);
    rsyslog = spawn(RSYSLOGD!, ['-n', '-f', path.join(dir, 'rsyslog.conf'), '-i', path.join(dir, 'rsyslog.pid')], { stdio: 'ignore' });
    receiver = await startReceiver(httpPort);
    // rsyslog listens once its TCP port takes a connection.
    await eventually('rsyslog to listen', () => new Promise<boolean>((resolve) => void net.connect(tcp, '127.0.0.1', function (this: net.Socket) { this.destroy(); resolve(true); }).on('error', () => resolve(false))));
    targets = [`syslog://127.0.0.1:${udp}`, `syslog+tcp://127.0.0.1:${tcp}`, `http://berth:s3cret@127.0.0.1:${httpPort}/ingest`, `http://127.0.0.1:${httpPort}/stuck`, `syslog+tcp://127.0.0.1:${down}`];
    server = await startServer(path.join(dir, 'server'));
    agentPort = await freePort();
    const args = [...targets.flatMap((t) => ['--log-forward', t]), '--log-forward-buffer', String(BUFFER), '--http-addr', `127.0.0.1:${agentPort}`];
    agent = await startAgent({ servers: [server.addr], dataDir: path.join(dir, 'agent'), nodeName, driver: 'process', args });
  });
  after(async () => {
    if (server) {
      for (const job of ['chatty', 'talk']) await berth(['job', 'stop', job, '--purge', '--detach'], { addr: server.addr }).catch(() => undefined);
    }
    await new Promise((r) => setTimeout(r, 1000));
    await agent?.stop();
    await server?.stop();
    receiver?.close();
    rsyslog?.kill('SIGTERM');
    await rm(dir, { recursive: true, force: true });
  });

  it('delivers each line of stdout and stderr as a syslog message over UDP and TCP naming the node, job, allocation and task, and as JSON lines with basic auth', async () => {
    const file = path.join(dir, 'chatty.yaml');
    await writeFile(file, JOB);
    const run = await berth(['job', 'run', file], { addr: server!.addr, timeoutMs: 60_000 });
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    const [alloc] = (await (await fetch(`${server!.addr}/v1/jobs/chatty/allocations`)).json()) as Allocation[];

    for (const log of [udpLog, tcpLog]) {
      const lines = await eventually(`40 lines in ${path.basename(log)}`, async () => (received(log).length >= 40 ? received(log) : undefined), 20_000).catch((err: Error) =>
        assert.fail(`${err.message}: got ${received(log).length}\nagent: ${agent!.logs().slice(-2000)}`),
      );
      assert.equal(lines.length, 40, log);
      const stdout = lines.filter((l) => l.msg.startsWith('out '));
      const stderr = lines.filter((l) => l.msg.startsWith('err '));
      assert.deepEqual(stdout.map((l) => l.msg), Array.from({ length: 20 }, (_, i) => `out ${i}`), 'stdout in order, each line once');
      assert.deepEqual(stderr.map((l) => l.msg), Array.from({ length: 20 }, (_, i) => `err ${i}`));
      for (const l of lines) {
        assert.deepEqual([l.host, l.app, l.proc, l.msgid], [nodeName, 'chatty', alloc!.id, 'talker']);
        assert.match(l.sd, new RegExp(`^\\[berth@32473 job="chatty" group="app" alloc="${alloc!.id}" task="talker" stream="(stdout|stderr)"\\]$`));
      }
      assert.deepEqual([...new Set(stdout.map((l) => l.sev))], ['info']);
      assert.deepEqual([...new Set(stderr.map((l) => l.sev))], ['err']);
    }
    const records = await eventually('40 JSON lines', async () => receiver!.records.length >= 40 && receiver!.records);
    assert.deepEqual(records.filter((r) => r.stream === 'stdout').map((r) => r.message), Array.from({ length: 20 }, (_, i) => `out ${i}`));
    assert.deepEqual({ ...records[0], timestamp: undefined, message: undefined }, { timestamp: undefined, node: nodeName, job: 'chatty', group: 'app', alloc: alloc!.id, task: 'talker', stream: records[0]!.stream, message: undefined });

    // A restarted task is a new instance: its output is forwarded too.
    const restart = await berth(['alloc', 'restart', alloc!.id], { addr: server!.addr, timeoutMs: 30_000 });
    assert.equal(restart.code, 0, restart.stderr);
    await eventually('the new instance at rsyslog', async () => received(tcpLog).length >= 80, 20_000).catch((err: Error) => assert.fail(`${err.message}: got ${received(tcpLog).length}`));
    assert.equal(received(tcpLog).filter((l) => l.msg === 'out 0').length, 2);

    // The agent counts what it sent to each target, and rsyslog has every one of them.
    for (const [target, log] of [[targets[0]!, udpLog], [targets[1]!, tcpLog]] as const) {
      const forwarded = await eventually(`the count for ${target} to settle`, async () => {
        const n = await metric('berth_agent_log_lines_forwarded_total', target);
        return n >= 80 && n === received(log).length ? n : undefined;
      }).catch(async (err: Error) => assert.fail(`${err.message}: forwarded ${await metric('berth_agent_log_lines_forwarded_total', target)}, received ${received(log).length}`));
      assert.ok(forwarded >= 80);
      assert.equal(await metric('berth_agent_log_lines_dropped_total', target), 0);
    }
  });

  it('a receiver that never answers and one that is down cost a task nothing: it exits on time with its output whole, and their drops are counted', async () => {
    // LINES numbered lines in bursts of 20 a tenth of a second apart, then one on stderr.
    const script = `i=0; while [ $i -lt ${LINES} ]; do echo "line $i"; i=$((i+1)); if [ $((i % 20)) -eq 0 ]; then sleep 0.1; fi; done; echo last >&2`;
    const spec = { id: 'talk', type: 'batch', groups: [{ name: 'g', tasks: [{ name: 'say', driver: 'process', config: { command: '/bin/sh', args: ['-c', script] }, resources: { cpu: 0.1, memory: '32MiB' } }] }] };
    const file = path.join(dir, 'talk.json');
    await writeFile(file, JSON.stringify(spec));
    assert.equal((await berth(['job', 'run', '--detach', file], { addr: server!.addr })).code, 0);
    const [alloc] = await eventually('the task to finish', async () => {
      const all = (await (await fetch(`${server!.addr}/v1/jobs/talk/allocations`)).json()) as Allocation[];
      return all.length === 1 && all[0]!.clientStatus !== 'pending' && all[0]!.clientStatus !== 'running' && all;
    });
    const state = alloc!.taskStates.say!;
    assert.deepEqual([alloc!.clientStatus, state.exitCode], ['complete', 0]);
    // Its 1 s of sleeps, not a send timeout (10 s) or a backoff.
    assert.ok(state.finishedAt! - state.startedAt! < 5000, `the task took ${state.finishedAt! - state.startedAt!} ms`);
    const own = await berth(['logs', 'talk', '-a', '--no-prefix'], { addr: server!.addr });
    assert.equal(own.stdout.split('\n').filter(Boolean).length, LINES + 1, 'its own output is whole');

    // The TCP receiver has every line; what it has is what the stuck and the down target were given.
    const tcpLines = await eventually('every line over TCP', async () => (received(tcpLog, 'talk').length === LINES + 1 ? received(tcpLog, 'talk') : undefined)).catch((err: Error) =>
      assert.fail(`${err.message}: got ${received(tcpLog, 'talk').length}`),
    );
    assert.deepEqual(tcpLines.map((l) => l.msg), [...Array.from({ length: LINES }, (_, i) => `line ${i}`), 'last']);
    const given = await metric('berth_agent_log_lines_forwarded_total', targets[1]!);
    assert.ok(given > BUFFER);
    // Named in the metrics without the password.
    const [good, stuck, down] = [targets[2]!.replace(':s3cret@', ':***@'), targets[3]!, targets[4]!];
    await eventually('the HTTP receiver to have as many', async () => (await metric('berth_agent_log_lines_forwarded_total', good)) === given && receiver!.records.length === given).catch(async (err: Error) =>
      assert.fail(`${err.message}: ${await metric('berth_agent_log_lines_forwarded_total', good)} sent, ${receiver!.records.length} received of ${given}`),
    );
    assert.equal(await metric('berth_agent_log_lines_dropped_total', targets[1]!), 0);
    const text = await (await fetch(`http://127.0.0.1:${agentPort}/v1/metrics`)).text();
    assert.ok(!text.includes('s3cret') && !agent!.logs().includes('s3cret'), 'the password is in neither the metrics nor the log');
    for (const bad of [stuck, down]) {
      await eventually(`${bad} to have dropped all but its buffer`, async () => (await metric('berth_agent_log_lines_dropped_total', bad)) === given - BUFFER, 10_000).catch(async (err: Error) =>
        assert.fail(`${err.message}: dropped ${await metric('berth_agent_log_lines_dropped_total', bad)} of ${given}`),
      );
      assert.deepEqual([await metric('berth_agent_log_lines_forwarded_total', bad), await metric('berth_agent_log_lines_queued', bad)], [0, BUFFER], bad);
    }
    assert.ok(receiver!.stuck() >= 1, 'the stuck receiver was sent a batch');
    assert.match(agent!.logs(), new RegExp(`log forwarding fell behind.*${stuck.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}|${stuck.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}.*log forwarding fell behind`));
  });

  it('refuses a bad target or buffer at start, naming the flag, the value and the forms that work', async () => {
    const bad = await berth(['agent', '--log-forward', 'ftp://example.com/logs'], {});
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /--log-forward "ftp:\/\/example\.com\/logs" has scheme ftp; use syslog:\/\/HOST:514 \(RFC 5424 over UDP\), syslog\+tcp:\/\/HOST:601 .* or http\(s\):\/\/\[USER:PASSWORD@\]HOST\/PATH/);
    const buffer = await berth(['agent', '--log-forward', targets[0]!, '--log-forward-buffer', 'lots'], {});
    assert.equal(buffer.code, 2, buffer.stderr);
    assert.match(buffer.stderr, /--log-forward-buffer.*'lots'.*expected a whole number/);
  });
});
