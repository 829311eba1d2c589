import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { silentLogger } from '../../lib/index.ts';
import { LogForwarder, parseLogTarget, syslogMessage, type LogLine } from './log-forwarder.ts';

const line = (n: number, stream: LogLine['stream'] = 'stdout'): LogLine => ({ time: Date.UTC(2026, 0, 2, 3, 4, 5), job: 'web', group: 'g', alloc: 'a1', task: 't', stream, line: `line ${n}` });

/** An HTTP receiver of JSON lines; `answer` says what status it gives, `hold` keeps requests waiting. */
async function receiver(): Promise<{ url: string; lines: Record<string, string>[]; answer: { status: number }; hold: { until?: Promise<void> }; close: () => Promise<void> }> {
  const lines: Record<string, string>[] = [];
  const answer = { status: 200 };
  const hold: { until?: Promise<void> } = {};
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d));
    req.on('end', async () => {
      await hold.until;
      if (answer.status === 200) for (const l of body.split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, string>);
      res.writeHead(answer.status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/logs`, lines, answer, hold, close: () => new Promise((r) => server.close(() => r())) };
}

const until = async (what: string, cond: () => boolean, ms = 5000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe('LogForwarder', () => {
  it('sends lines to an HTTP receiver as JSON lines, in order, with their names', async (t) => {
    const r = await receiver();
    t.after(() => r.close());
    const f = new LogForwarder({ target: r.url, logger: silentLogger(), hostname: 'n1' });
    t.after(() => f.close());
    for (let i = 0; i < 1200; i++) f.push(line(i, i % 2 ? 'stderr' : 'stdout'));
    await until('every line', () => f.forwarded === 1200);
    assert.deepEqual(r.lines[1], { timestamp: '2026-01-02T03:04:05.000Z', node: 'n1', job: 'web', group: 'g', alloc: 'a1', task: 't', stream: 'stderr', message: 'line 1' });
    assert.deepEqual(r.lines.map((l) => l.message), Array.from({ length: 1200 }, (_, i) => `line ${i}`));
    assert.equal(f.forwarded, 1200);
    assert.equal(f.dropped, 0);
  });

  it('never waits on a slow or failing receiver: it keeps the newest lines up to its buffer, counts what it dropped, and catches up', async (t) => {
    const r = await receiver();
    t.after(() => r.close());
    r.answer.status = 503;
    const f = new LogForwarder({ target: r.url, logger: silentLogger(), capacity: 100, batch: 10 });
    t.after(() => f.close());
    const started = performance.now();
    for (let i = 0; i < 1000; i++) f.push(line(i));
    assert.ok(performance.now() - started < 200, 'pushing 1000 lines does not wait on the receiver');
    assert.equal(f.queued, 100);
    assert.equal(f.dropped, 900);
    r.answer.status = 200;
    await until('the buffer to be sent', () => f.queued === 0, 15_000);
    // The first line was in flight when the rest came, so it stays; of the rest, the newest 99.
    const got = r.lines.map((l) => Number(l.message!.split(' ')[1]));
    assert.deepEqual(got, [0, ...Array.from({ length: 99 }, (_, i) => 901 + i)]);
    assert.equal(f.dropped + f.forwarded, 1000);
  });

  it('formats RFC 5424 syslog messages', () => {
    const text = syslogMessage({ ...line(7, 'stderr'), job: 'web app', line: 'héllo "x"' }, 'host-1').toString('utf8');
    assert.equal(text, '<11>1 2026-01-02T03:04:05.000Z host-1 web_app a1 t [berth@32473 job="web app" group="g" alloc="a1" task="t" stream="stderr"] \uFEFFhéllo "x"');
    assert.ok(syslogMessage({ ...line(1), line: 'x'.repeat(5000) }, 'h').length <= 2048);
  });

  it('accepts syslog and http(s) targets and says what else it would need', () => {
    assert.deepEqual(parseLogTarget('syslog://10.0.0.5'), { ok: true, target: { kind: 'syslog', host: '10.0.0.5', port: 514 } });
    assert.deepEqual(parseLogTarget('syslog://[::1]:5514'), { ok: true, target: { kind: 'syslog', host: '::1', port: 5514 } });
    assert.equal(parseLogTarget('https://logs.example/ingest').ok, true);
    const bad = parseLogTarget('tcp://x:1');
    assert.ok(!bad.ok && /scheme tcp; use syslog:\/\/host:514/.test(bad.error));
  });
});
